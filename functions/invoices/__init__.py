"""Invoices: the account summary, invoice views, PDF/CSV, the upcoming preview, operator money routes."""
