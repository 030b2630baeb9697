"""Clinic settings."""
