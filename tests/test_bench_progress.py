"""The benchmarks' progress bars: throttled drawing, in place on a terminal, lines elsewhere,
and the ingest and allocate loops counting what they measure."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

from retailedge.bench.allocate import _blast, _raw_request
from retailedge.bench.ingest import run_ingest_bench
from retailedge.bench.progress import (
    LOG_EVERY_S,
    TERMINAL_EVERY_S,
    ProgressBar,
    StderrProgress,
    bar_text,
)


@dataclass
class Recorded:
    bar_every_s: float = 1.0
    lines: list[str] = field(default_factory=list)
    bars: list[tuple[str, bool]] = field(default_factory=list)

    def __call__(self, message: str) -> None:
        self.lines.append(message)

    def bar(self, message: str, *, final: bool) -> None:
        self.bars.append((message, final))


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def test_bar_text() -> None:
    assert bar_text("run 1/3: pipeline", 1500, 5000, "records written") == (
        "run 1/3: pipeline [######--------------] 1,500/5,000 records written"
    )


def test_a_bar_draws_at_most_once_per_interval_and_always_at_the_end() -> None:
    progress, clock = Recorded(), Clock()
    bar = ProgressBar(progress, "orders", 1000, "placed", clock=clock)
    for done in range(1, 401):  # 400 updates within the first second: nothing drawn
        clock.now += 0.002
        bar.update(done)
    assert progress.bars == []
    clock.now += 0.3  # 1.1 s after the start
    bar.update(401)
    bar.update(402)  # same instant: not drawn again
    clock.now += 0.9
    bar.update(700)
    clock.now += 0.2
    bar.update(701)
    bar.finish()
    assert progress.bars == [
        (bar_text("orders", 401, 1000, "placed"), False),
        (bar_text("orders", 701, 1000, "placed"), False),
        (bar_text("orders", 701, 1000, "placed"), True),
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_rewrites_one_line_until_final() -> None:
    stream = Terminal()
    progress = StderrProgress(stream=stream)
    assert progress.bar_every_s == TERMINAL_EVERY_S
    progress("seeded 10 stock balances")
    progress.bar("orders [##--] 1/4", final=False)
    progress.bar("orders [####] 2/4", final=False)
    progress("a line in between ends the bar's line first")
    progress.bar("orders [####] 4/4", final=True)
    progress("done")
    assert stream.getvalue() == (
        "[bench] seeded 10 stock balances\n"
        "\r[bench] orders [##--] 1/4\x1b[K"
        "\r[bench] orders [####] 2/4\x1b[K"
        "\n[bench] a line in between ends the bar's line first\n"
        "\r[bench] orders [####] 4/4\x1b[K\n"
        "[bench] done\n"
    )


def test_elsewhere_every_drawing_is_a_line_and_quiet_is_silent() -> None:
    stream = io.StringIO()
    progress = StderrProgress(stream=stream)
    assert progress.bar_every_s == LOG_EVERY_S
    progress.bar("orders [##--] 1/4", final=False)
    progress.bar("orders [####] 4/4", final=True)
    progress("done")
    assert stream.getvalue() == (
        "[bench] orders [##--] 1/4\n[bench] orders [####] 4/4\n[bench] done\n"
    )
    silent = io.StringIO()
    quiet = StderrProgress(quiet=True, stream=silent)
    quiet("x")
    quiet.bar("y", final=True)
    assert silent.getvalue() == ""


def test_bench_ingest_draws_records_written_per_side_and_repeat() -> None:
    progress = Recorded(bar_every_s=0.0)  # draw at every update
    result = run_ingest_bench(3000, 2, 1000, progress)
    assert result["records"] == 3000 and result["repeat"] == 2
    finals = [message for message, final in progress.bars if final]
    assert finals == [
        bar_text(f"run {n}/2: {side}", 3000, 3000, "records written")
        for n in (1, 2)
        for side in ("pipeline", "raw executemany")
    ]
    pipeline = [m for m, final in progress.bars if not final and "1/2: pipeline" in m]
    # 60 puts of 50 records: a drawing after each, counting up to all 3,000.
    assert len(pipeline) == 60
    assert pipeline[0].endswith(" 50/3,000 records written")
    baseline = [m for m, final in progress.bars if not final and "1/2: raw" in m]
    assert [m.split()[-3] for m in baseline] == ["1,000/3,000", "2,000/3,000", "3,000/3,000"]
    assert len(progress.lines) == 2  # the per-run figures, as before


async def test_allocate_blast_counts_every_answer() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    progress = Recorded(bar_every_s=0.0)
    bar = ProgressBar(progress, "sqlite run 1/1", 120, "orders placed")
    try:
        _, answers = await _blast(port, [_raw_request("GET", "/healthz", None)] * 120, 4, bar)
    finally:
        server.close()
        await server.wait_closed()
    assert answers == [(200, b"ok")] * 120
    drawn = [message for message, final in progress.bars if not final]
    assert len(drawn) == 120
    assert (
        drawn[-1] == progress.bars[-1][0] == bar_text("sqlite run 1/1", 120, 120, "orders placed")
    )
    assert progress.bars[-1][1] is True
