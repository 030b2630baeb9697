"""Prescriptions from a visit, their print-out, and dispensing at the clinic's own shelf."""
