"""The fault proxy itself, against a tiny real HTTP upstream: each mode does what it claims, so
the store-and-forward tests that rely on it prove what they say."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.integration.faults import Exchange, Fate, FaultProxy

pytestmark = pytest.mark.integration


class _Upstream(BaseHTTPRequestHandler):
    """Stores every batch it receives and acks its last_seq, like a (simplified) cloud."""

    received: list[dict[str, object]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        batch = json.loads(body)
        self.server.received.append(batch)  # type: ignore[attr-defined]
        answer = json.dumps({"ack_seq": batch["last_seq"], "duplicates": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _batch(first: int, last: int) -> bytes:
    records = [{"seq": s, "kind": "scan"} for s in range(first, last + 1)]
    body = {"gateway_id": "g", "first_seq": first, "last_seq": last, "records": records}
    return gzip.compress(json.dumps(body).encode())


def _post(client: httpx.Client, url: str, first: int, last: int) -> httpx.Response:
    return client.post(
        f"{url}/api/v1/ingest",
        content=_batch(first, last),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )


def test_pass_down_and_up_again(upstream: ThreadingHTTPServer) -> None:
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    with FaultProxy(base) as proxy, httpx.Client(timeout=5) as client:
        assert _post(client, proxy.url, 1, 3).json() == {"ack_seq": 3, "duplicates": 0}
        proxy.down()
        with pytest.raises(httpx.ConnectError):
            _post(client, proxy.url, 4, 4)
        proxy.pass_through()
        assert _post(client, proxy.url, 4, 5).json() == {"ack_seq": 5, "duplicates": 0}
        exchanges = proxy.exchanges()
    assert [(e.fate, e.first_seq, e.last_seq, e.seqs, e.status, e.ack_seq) for e in exchanges] == [
        (Fate.PASSED, 1, 3, [1, 2, 3], 200, 3),
        (Fate.PASSED, 4, 5, [4, 5], 200, 5),
    ]
    assert [b["first_seq"] for b in upstream.received] == [1, 4]  # type: ignore[attr-defined]


def test_flaky_is_seeded_and_faults_before_or_after_the_upstream(
    upstream: ThreadingHTTPServer,
) -> None:
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    outcomes: list[list[tuple[Fate, int | None]]] = []
    for _ in range(2):
        upstream.received.clear()  # type: ignore[attr-defined]
        with FaultProxy(base) as proxy, httpx.Client(timeout=0.3) as client:
            proxy.flaky(0.5, seed=3)
            seen: list[tuple[Fate, int | None]] = []
            for seq in range(1, 41):
                try:
                    status: int | None = _post(client, proxy.url, seq, seq).status_code
                except httpx.ReadTimeout:
                    status = None
                seen.append((proxy.exchanges()[-1].fate, status))
            outcomes.append(seen)
            exchanges = proxy.exchanges()
        forwarded = [e.first_seq for e in exchanges if e.forwarded]
        assert [b["first_seq"] for b in upstream.received] == forwarded  # type: ignore[attr-defined]
    assert outcomes[0] == outcomes[1], "same seed, same faults"
    expected_status = {
        Fate.PASSED: 200,
        Fate.ERROR_BEFORE: 500,
        Fate.ERROR_AFTER: 500,
        Fate.HELD_BEFORE: None,
        Fate.HELD_AFTER: None,
    }
    assert all(status == expected_status[fate] for fate, status in outcomes[0])
    assert {fate for fate, _ in outcomes[0]} == set(expected_status)
    held_after = [e for e in exchanges if e.fate is Fate.HELD_AFTER]
    assert all(e.status == 200 and e.ack_seq == e.last_seq for e in held_after)


def test_commit_then_drop_runs_the_callback_once_and_never_answers(
    upstream: ThreadingHTTPServer,
) -> None:
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    committed: list[Exchange] = []
    with FaultProxy(base) as proxy, httpx.Client(timeout=5) as client:
        proxy.commit_then_drop(committed.append)
        with pytest.raises(httpx.RemoteProtocolError):
            _post(client, proxy.url, 1, 2)
        assert _post(client, proxy.url, 3, 3).status_code == 200
        fates = [e.fate for e in proxy.exchanges()]
    assert [(e.first_seq, e.last_seq, e.status, e.ack_seq) for e in committed] == [(1, 2, 200, 2)]
    assert fates == [Fate.DROPPED_AFTER_COMMIT, Fate.PASSED]
    assert [b["first_seq"] for b in upstream.received] == [1, 3]  # type: ignore[attr-defined]
