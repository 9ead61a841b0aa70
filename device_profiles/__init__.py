"""Declarative device descriptions (one file per device model) and their loader."""
