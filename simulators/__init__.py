"""Devices that speak real wire formats (NMEA on a pseudo-terminal, ...) for demos and tests."""
