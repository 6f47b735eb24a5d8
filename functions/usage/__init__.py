"""Usage: metered records from services, deduplicated and summed per (account, period, service, metric, price)."""
