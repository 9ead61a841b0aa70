"""Device connectors: each turns one device's byte stream into records handed to the pipeline."""
