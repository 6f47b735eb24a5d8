"""Payments: the card on file, one-time payments, off-session charges, refunds to cards, Stripe's
webhooks and support tickets (see service.py, the front door)."""
