"""Billing items: provisioning (New invoice), device links, views, bulk actions, cancellation."""
