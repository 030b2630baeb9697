"""The clinic's billing: totals, numbering, invoices, payments and credit, receipts (one module each)."""
