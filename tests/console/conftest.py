"""The cloud API fixtures (every test on SQLite and PostgreSQL) for the console tests."""

from tests.cloud.conftest import cloud, database_url

__all__ = ["cloud", "database_url"]
