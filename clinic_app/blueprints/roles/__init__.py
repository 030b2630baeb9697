"""Roles and their permission matrix."""
