"""A from-scratch solve off the re-plan's critical path, adopted at a later re-plan.

A re-plan must answer within about a second, so it repairs the previous routes; repairs drift (new
work is inserted greedily and local search stalls), and settles far above what the engine finds
from scratch. A from-scratch solve of 500 tasks costs seconds of CPU, though, and VROOM keeps the
GIL while it runs, so it runs here in a separate process (at a lower CPU priority, so the re-plan
wins the cores) on the newest snapshot. The planner seeds one solve of its next re-plan with the
result, and the churn rule decides whether the routes that come out replace the plan in force.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Protocol

from cloud.dispatch.build import BuildRequest, build_instance
from cloud.dispatch.engine import StepKind
from cloud.dispatch.problem import StopKind

Seeds = Mapping[str, tuple[tuple[str, StopKind], ...]]


@dataclass(frozen=True)
class Improvement:
    """Routes (rider id -> stops by task id) found from scratch for the snapshot taken at
    ``snapshot_s``; ``cost`` is the engine's for that snapshot."""

    seeds: Seeds
    cost: int
    unassigned: int
    snapshot_s: float
    solve_s: float


class Improver(Protocol):
    """What the planner needs from a background solver (a test may stand in for the process)."""

    def take(self) -> Improvement | None: ...

    def submit(self, request: BuildRequest) -> bool: ...


def _lower_priority(niceness: int) -> None:
    os.nice(niceness)


def solve_from_scratch(
    request: BuildRequest, exploration_level: int, threads: int, budget_s: float
) -> Improvement:
    """Build ``request`` without seeds and solve it; the routes come back by task and rider id."""
    from cloud.dispatch.vroom_engine import VroomEngine  # the worker process imports the engine

    started = time.perf_counter()
    instance = build_instance(replace(request, seeds={}))
    solution = VroomEngine(exploration_level, threads).solve(instance.engine_input, budget_s)
    seeds = {
        instance.rider_for_vehicle(vehicle_id).id: tuple(
            (
                instance.task_for_job(step.job_id).id,
                StopKind.PICKUP if step.kind is StepKind.PICKUP else StopKind.DROPOFF,
            )
            for step in steps
        )
        for vehicle_id, steps in solution.routes.items()
    }
    return Improvement(
        seeds,
        solution.cost,
        len(solution.unassigned),
        request.now_s,
        time.perf_counter() - started,
    )


class BackgroundImprover:
    """One worker process solving the newest snapshot from scratch, one snapshot at a time.

    ``submit`` hands over a snapshot when the worker is idle (else it is ignored: the next one will
    be newer); ``take`` returns a finished result once. A failed solve is kept in ``last_error`` and
    never reaches the planner. Close it (or use it as a context manager) to stop the worker; once
    closed it takes no snapshot and hands out nothing (a re-plan still running may call it).
    """

    def __init__(
        self,
        exploration_level: int = 5,
        threads: int = 2,
        budget_s: float = 30.0,
        niceness: int = 10,
    ) -> None:
        if not 1 <= exploration_level <= 5:
            raise ValueError("exploration_level must be 1..5")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        if budget_s <= 0:
            raise ValueError("budget_s must be positive")
        self.exploration_level = exploration_level
        self.threads = threads
        self.budget_s = budget_s
        self.niceness = niceness
        self.last_error: str | None = None
        self.solved = 0
        self._pool = self._new_pool()
        self._future: Future[Improvement] | None = None
        self.closed = False
        self._guard = threading.Lock()  # a re-plan thread may submit while the owner closes

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the caller may run threads (an event loop, a solver thread)
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_lower_priority,
            initargs=(self.niceness,),
        )

    @property
    def busy(self) -> bool:
        future = self._future
        return future is not None and not future.done()

    def submit(self, request: BuildRequest) -> bool:
        """Start solving ``request`` from scratch unless a solve is running; True if started."""
        with self._guard:
            return self._submit(request)

    def _submit(self, request: BuildRequest) -> bool:
        if self.busy or self.closed:
            return False
        if self._future is not None:
            self._collect()  # finished but not taken: a newer snapshot replaces it
        try:
            self._future = self._pool.submit(
                solve_from_scratch, request, self.exploration_level, self.threads, self.budget_s
            )
        except BrokenProcessPool as error:  # the worker died (killed, out of memory): a new one
            self.last_error = f"background worker lost: {error}"
            self._stop_pool()
            self._pool = self._new_pool()
            return False
        return True

    def take(self) -> Improvement | None:
        """The finished result not yet taken, if any."""
        with self._guard:
            if self.closed or self._future is None or not self._future.done():
                return None
            return self._collect()

    def wait(self, timeout_s: float) -> bool:
        """Block until the running solve ends or ``timeout_s`` passes; True if none is running."""
        future = self._future
        if future is None:
            return True
        try:
            future.exception(timeout=timeout_s)
        except TimeoutError:
            return False
        return True

    def _collect(self) -> Improvement | None:
        future, self._future = self._future, None
        assert future is not None and future.done()
        try:
            result = future.result()
        except Exception as error:  # a failed solve or a crashed worker is reported, not raised
            self.last_error = f"background solve failed: {error}"
            return None
        self.solved += 1
        return result

    def _stop_pool(self) -> None:
        """Stop the worker now, even mid-solve (a solve can take many seconds)."""
        processes = list((self._pool._processes or {}).values())  # no public handle on the workers
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)

    def close(self) -> None:
        with self._guard:
            if self.closed:
                return
            self.closed = True
            self._future = None
            self._stop_pool()

    def __enter__(self) -> BackgroundImprover:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
