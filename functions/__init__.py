"""billow: the billing backend (Chalice handlers, services and stores)."""
