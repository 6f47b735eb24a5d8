"""Accounts: profiles, members (who may act on an account), capabilities, devices, the audit trail."""
