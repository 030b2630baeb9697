"""Invoices, payments, credit notes, receipts and the price list (the clinic's own billing)."""
