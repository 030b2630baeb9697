"""Pharmacy stock: the medicines catalogue, batches, receiving, adjustments, write-offs, stock lists."""
