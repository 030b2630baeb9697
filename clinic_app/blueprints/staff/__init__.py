"""Staff: list, invite, change role, deactivate and reactivate (Admin by default)."""
