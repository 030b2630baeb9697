"""The clinic's outgoing email, as the outbox sees it (read-only)."""
