"""Invoices storage. Invoice records, lines and the ledger belong to core (they move money and are
written in core's unit of work); this domain reads them through core. What this store will own is the
rendered artefacts (PDFs in S3), which arrive with the invoices issue."""
