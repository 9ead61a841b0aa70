"""Blocking line-protocol writes to an InfluxDB 2 write API (influxdb-client, synchronous mode).

Retries are ours (the outbox drainer's jittered backoff), so the client is built without its
own; every failure becomes one :class:`InfluxWriteError` with a readable reason.
"""

from __future__ import annotations

from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from urllib3.exceptions import HTTPError

WRITE_TIMEOUT_MS = 10_000


class InfluxWriteError(Exception):
    """A write the server did not accept (refused, timed out or answered with an error)."""


class InfluxWriter:
    def __init__(self, *, url: str, token: str | None, org: str, bucket: str) -> None:
        self.bucket = bucket
        self.org = org
        self._client = InfluxDBClient(
            url=url, token=token or "", org=org, timeout=WRITE_TIMEOUT_MS, retries=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: str) -> None:
        """Write newline-separated points (ns precision); raises :class:`InfluxWriteError`."""
        try:
            self._api.write(
                bucket=self.bucket,
                org=self.org,
                record=lines,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
            )
        except InfluxDBError as exc:
            raise InfluxWriteError(f"InfluxDB refused the write: {exc}") from None
        except (HTTPError, OSError) as exc:
            raise InfluxWriteError(f"InfluxDB unreachable: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
