"""RetailEdge cloud service: authenticated, idempotent gateway ingest and fleet queries."""

from cloud.app import create_app
from cloud.settings import Settings

__all__ = ["Settings", "create_app"]
