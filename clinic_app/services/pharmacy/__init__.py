"""Pharmacy use cases, one module per area: catalogue, stock (ledger), prescribing, dispensing, allergies."""
