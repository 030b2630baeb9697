"""The audit log (read-only)."""
