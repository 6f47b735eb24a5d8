"""Payments: the card on file (Stripe customer, SetupIntents, card changes and their validation)."""
