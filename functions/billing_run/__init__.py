"""The monthly run: the daily schedule, shard workers, account workers (Recurring invoice, off-session
charge, PDF, notice) and dunning."""
