"""Visits (encounters): SOAP notes, vitals, diagnosis, signing and amendments."""
