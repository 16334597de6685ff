"""Where a sweep's runs execute: one after another in this process, or as Ray tasks.

This is the only module that imports Ray, and only when a sweep runs on it: the model and
every other command work without Ray. Seeds are fixed in the tasks before anything is
scheduled, so the outcomes are the same whichever path, worker or order ran them.

On Ray, consecutive runs are grouped into batches, one Ray task each, so that runs of a
fraction of a second are not dominated by scheduling. Batches shrink towards the end of
the sweep (each holds at most 1/``BATCHES_PER_CPU`` of a CPU's share of the runs not yet
batched), down to single runs: the load stays balanced, the CPU that finishes last does
not keep the others waiting for a whole batch, and an interruption loses little. Results
come back to the driver, which writes them: cluster nodes need no shared file system. A
run that raises is caught in the task and reported; a worker process (or node) that dies
is retried by Ray up to ``MAX_RETRIES`` times, after which its runs are reported as failed.
"""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Callable, Iterator

from abm.config import Config
from abm.errors import UserError
from abm.execution import Task
from abm.simulate import RunResult

Runner = Callable[[Config, int], RunResult]
Outcome = tuple[str, RunResult | None, str | None]  # run_id, result, or the traceback of a run that raised

MAX_RETRIES = 3
BATCHES_PER_CPU = 8
MAX_BATCH = 16
EMBEDDED_OBJECT_STORE_BYTES = 1 << 30  # results pass through quickly; Ray's default claims 30% of RAM in /dev/shm
CONNECT_TIMEOUT_S = 3.0


def run_batch(tasks: list[Task], runner: Runner) -> list[Outcome]:
    """Run tasks one after another; a run that raises becomes an outcome with its traceback."""
    outcomes = []
    for task in tasks:
        try:
            outcomes.append((task.labels["run_id"], runner(task.config, task.seed), None))
        except Exception:
            outcomes.append((task.labels["run_id"], None, traceback.format_exc()))
    return outcomes


def execute(tasks: list[Task], runner: Runner, workers: int, address: str | None) -> Iterator[list[Outcome]]:
    """Outcomes batch by batch as they finish: in this process when ``workers == 1`` and
    no ``address`` is given, else on Ray (embedded with ``workers`` CPUs, or the cluster)."""
    if not tasks:  # a resumed sweep that is already complete: no need to start Ray
        return
    if address is None and workers == 1:
        for task in tasks:
            yield run_batch([task], runner)
    else:
        yield from _on_ray(tasks, runner, workers, address)


def check_reachable(address: str) -> None:
    """Fail fast, before anything is written, if nothing listens at ``host:port``."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address!r}: expected HOST:PORT of a Ray head, e.g. --address 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(f"--address {address}: cannot reach a Ray head there ({error.strerror or error}); "
                        f"start one with `ray start --head --port={port}` or check the address") from None


def batches(tasks: list[Task], cpus: int) -> Iterator[list[Task]]:
    """Consecutive runs in batches that shrink as fewer runs are left, down to one run."""
    start = 0
    while start < len(tasks):
        size = max(1, min(MAX_BATCH, (len(tasks) - start) // (cpus * BATCHES_PER_CPU)))
        yield tasks[start:start + size]
        start += size


def _on_ray(tasks: list[Task], runner: Runner, workers: int, address: str | None) -> Iterator[list[Outcome]]:
    import ray

    started_here = not ray.is_initialized()  # a Python caller may have connected already
    if started_here:
        connect(workers, address)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(run_batch).options(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)
        # submitted largest first; Ray starts a caller's tasks in the order they were submitted
        pending = {remote.remote(batch, runner): batch for batch in batches(tasks, cpus)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            batch = pending.pop(ready[0])
            try:
                outcomes = ray.get(ready[0])
            except ray.exceptions.RayError as error:  # retries used up: the worker or its node kept dying
                outcomes = [(task.labels["run_id"], None, f"{type(error).__name__} after {MAX_RETRIES} retries: {error}")
                            for task in batch]
            yield outcomes
    finally:
        if started_here:
            ray.shutdown()


def connect(workers: int, address: str | None) -> None:
    """Start an embedded Ray with ``workers`` CPUs, or join the cluster at ``address``.

    Ray runs its workers at niceness 15 by default, so on a busy machine any other process
    starves the sweep; the embedded Ray's workers run at normal priority, like a serial
    run. (Cluster nodes keep what ``ray start`` gave them: ``RAY_worker_niceness=0``.)
    """
    import ray

    if address is None:
        ray.init(address="local", num_cpus=workers, object_store_memory=EMBEDDED_OBJECT_STORE_BYTES,
                 include_dashboard=False, logging_level=logging.WARNING, _system_config={"worker_niceness": 0})
        return
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, ray.exceptions.AuthenticationError) as error:
        raise UserError(f"--address {address}: cannot join the Ray cluster: {error}") from None
