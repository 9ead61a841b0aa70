"""Thin HTTP routes; each delegates to a service function."""
