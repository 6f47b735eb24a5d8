"""Shared kernel: money, ids, errors, settings, auth, storage, unit of work, ledger records."""
