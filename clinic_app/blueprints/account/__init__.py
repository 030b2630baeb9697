"""The signed-in user's own account: name, password, sessions."""
