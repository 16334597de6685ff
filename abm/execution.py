"""One way to run a batch of simulations, for ``abm compare``, ``abm sweep`` and Python.

A batch is a list of :class:`Task` (a config, a seed, an id and the labels that become
result columns), built by :func:`batch_tasks`: every design point x replication x
strategy, replication ``r`` with the same seed everywhere (common random numbers). Seeds
are fixed before anything is scheduled, so a result never depends on where, or in which
order, it ran. :func:`execute` runs the tasks and yields each outcome as it finishes, with
one progress bar, on an :class:`Executor`: in this process when ``workers == 1``, else on
Ray (an embedded Ray on this machine's CPUs, or a running cluster at ``address``). An
executor can be kept for more work than one batch: ``abm compare`` draws its figures on
it. The results are tabulated by
:func:`abm.results.summary_row` and :func:`abm.results.weekly_rows`.

This is the only module that imports Ray, and only when a batch runs on it: the model and
every other command work without Ray. It imports the model only when it needs it, so that
the command line can start the embedded Ray before it imports the model (:func:`start_early`).

On Ray, consecutive runs are grouped into batches, one Ray task each, so that runs of a
fraction of a second are not dominated by scheduling. Batches shrink towards the end (each
holds at most 1/``BATCHES_PER_CPU`` of a CPU's share of the runs not yet batched), down to
single runs: the load stays balanced, the CPU that finishes last does not keep the others
waiting for a whole batch, and an interruption loses little. Results come back to the
driver, which writes them: cluster nodes need no shared file system. A run that raises is
caught in the task and reported; a worker process (or node) that dies is retried by Ray up
to ``MAX_RETRIES`` times, after which its runs are reported as failed.

The embedded Ray opens nothing beyond this machine: its driver, GCS, raylet, workers and
agents listen on 127.0.0.1 only, and they admit only a process that holds this process's
token, kept in a file only its user can read (see :func:`connect`).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import importlib
import json
import logging
import os
import secrets
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from typing import TYPE_CHECKING

from abm import signals
from abm.errors import UserError

if TYPE_CHECKING:  # the model is imported where it is used: see the module's docstring
    from abm.config import Config
    from abm.simulate import RunResult

Runner = Callable[["Config", int], "RunResult"]

MAX_RETRIES = 3
BATCHES_PER_CPU = 8
MAX_BATCH = 16
EMBEDDED_OBJECT_STORE_BYTES = 1 << 30  # results pass through quickly; Ray's default claims 30% of RAM in /dev/shm
CONNECT_TIMEOUT_S = 3.0
PARENT_CHECK_S = 0.5
LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0, Ray takes 127.0.0.1 as the node's address, and then every one of its servers
binds 127.0.0.1 instead of all interfaces (ray/_private/services.py, get_node_ip_address)."""
USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"  # 0: the embedded Ray neither asks nor reports (about 1 s of its start)
GCS_RETRIES_ENV = "RAY_NUM_REDIS_GET_RETRIES"
AUTH_TOKEN_ENV = "RAY_AUTH_TOKEN"  # read by Ray before the token file: not for the embedded Ray
AUTH_TOKEN_FILE_ENV = "RAY_AUTH_TOKEN_PATH"
DEFAULT_TOKEN_FILE = Path(".ray") / "auth_token"  # in the home folder: where Ray and `ray start` keep a cluster's token
WORKER_GCS_RETRIES = 5  # about a second each; a live local GCS answers the first
PACKAGE_HOME = Path(__file__).resolve().parents[1]
"""The folder holding the ``abm`` package this process runs (site-packages, or a clone)."""


@dataclass(frozen=True)
class Task:
    """One run of a batch: what to simulate, with which seed, and what to call it."""

    run_id: str                      # unique in the batch, e.g. "p0003-r01-invest"; names its result files
    config: Config
    seed: int
    labels: dict = field(default_factory=dict)      # identity columns, e.g. {"replication": 2, "strategy": "invest"}
    parameters: dict = field(default_factory=dict)  # a sweep's varied parameters, also result columns


Outcome = tuple[Task, "RunResult | None", str | None]  # the task, its result, or the traceback of a run that raised


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Independent seeds for replications 0..n-1, derived from one seed (stable for any n)."""
    import numpy as np

    return [int(np.random.SeedSequence([seed, r]).generate_state(1, dtype=np.uint64)[0] >> 1) for r in range(replications)]


def batch_tasks(base: Config, strategies: Iterable[str], replications: int, seed: int,
                points: list[dict] | None = None, origin: str = "batch") -> list[Task]:
    """Every run of a batch, in run-id order: design point, then replication, then strategy.

    Replication ``r`` runs with the same seed in every strategy and design point (common
    random numbers), so differences between strategies and along a parameter are not
    blurred by different draws. Without ``points`` (a comparison) the runs are only
    replications x strategies and their ids and labels name no point.
    """
    seeds = replication_seeds(seed, replications)
    width = max(4, len(str(len(points or ()) - 1)))
    tasks = []
    for index, point in enumerate(points if points is not None else [{}]):
        for replication, replication_seed in enumerate(seeds):
            for strategy in strategies:
                overrides = {**point, "council.strategy": strategy, "council.strategy_mix": []}
                prefix = "" if points is None else f"p{index:0{width}d}-"
                labels = ({} if points is None else {"point": index}) | {"replication": replication, "strategy": strategy}
                tasks.append(Task(f"{prefix}r{replication:02d}-{strategy}", base.with_overrides(overrides, origin=origin),
                                  replication_seed, labels, dict(point)))
    return tasks


# -- running a batch -------------------------------------------------------------------


def check_executor(workers: int | None, address: str | None) -> None:
    """Fail with one clear line, before anything is written, on options that cannot work."""
    if address is not None and workers is not None:
        raise UserError("--workers sets the CPUs of the local Ray; with --address the cluster's CPUs are used")
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: expected 1 or more")
    if address is not None:
        check_reachable(address)


def execute(tasks: list[Task], *, workers: int | None = None, address: str | None = None,
            runner: Runner | None = None, description: str = "runs", done: int = 0,
            executor: Executor | None = None) -> Iterator[Outcome]:
    """Each task's outcome as it finishes, under one progress bar (``done`` runs already counted).

    Tasks identical by construction (:func:`identical_runs`) run once; each gets the result.
    They run on ``executor`` if given (kept for more work, e.g. a comparison's figures), else
    on one made for them from ``workers`` and ``address`` (see :class:`Executor`). ``runner``
    runs one simulation (config, seed), :func:`abm.simulate.run_simulation` unless tests and
    benchmarks substitute it.
    """
    from tqdm import tqdm

    if runner is None:
        from abm.simulate import run_simulation as runner
    failed = 0
    copies = identical_runs(tasks)
    distinct = [group[0] for group in copies.values()]
    with tqdm(total=len(tasks) + done, initial=done, desc=description, unit="run") as bar:
        bar.set_postfix(failed=0)
        if not tasks:  # e.g. a resumed sweep that is already complete: no need to start Ray
            return
        with contextlib.nullcontext(executor) if executor else Executor(workers, address) as session:
            for index, result, error in session.map(functools.partial(run_task, runner), distinct):
                task = distinct[index]
                for copy in copies[run_key(task)]:
                    failed += error is not None
                    bar.update(1)
                    bar.set_postfix(failed=failed)
                    yield copy, result if result is None or copy is task else _result_of(copy, result), error


def run_key(task: Task) -> str:
    """What a run's result depends on: its seed and config, less the strategy settings that
    none of its councils' strategies reads (:attr:`abm.strategies.Strategy.parameters`)."""
    from abm import strategies

    council = task.config.council
    used = {council.strategy, *council.strategy_mix, *council.strategy_by_municipality.values()}
    read = {key for name in used for key in strategies.lookup(name).parameters}
    values = task.config.to_dict()
    for key in strategies.settings() - read:
        del values["council"][key.split(".", 1)[1]]
    return json.dumps([task.seed, values], sort_keys=True)


def _result_of(copy: Task, result: RunResult) -> RunResult:
    """The result of an identical run, recording ``copy``'s own config (the settings it was given)."""
    if "config" not in result.summary:  # a runner substituted by a test or benchmark
        return result
    return dataclasses.replace(result, summary={**result.summary, "config": copy.config.to_json()})


def identical_runs(tasks: list[Task]) -> dict[str, list[Task]]:
    """The tasks grouped by :func:`run_key`, in order: each group is run once and its result
    given to every task in it (e.g. ``status_quo`` at every ``council.caseload_target``)."""
    groups: dict[str, list[Task]] = {}
    for task in tasks:
        groups.setdefault(run_key(task), []).append(task)
    return groups


def run_task(runner: Runner, task: Task) -> RunResult:
    """One task's simulation."""
    return runner(task.config, task.seed)


def attempt(function: Callable[[Any], Any], item: Any) -> tuple[Any, str | None]:
    """``function(item)`` and no error, or no result and the traceback of what it raised."""
    try:
        return function(item), None
    except Exception:
        return None, traceback.format_exc()


def batches(tasks: list, cpus: int) -> Iterator[list]:
    """Consecutive runs in batches that shrink as fewer runs are left, down to one run."""
    start = 0
    while start < len(tasks):
        size = max(1, min(MAX_BATCH, (len(tasks) - start) // (cpus * BATCHES_PER_CPU)))
        yield tasks[start:start + size]
        start += size


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


# -- what the workers need beyond the tasks --------------------------------------------


def driver_context() -> dict[str, Any]:
    """What this process knows that a fresh Ray worker does not, shipped with every batch:
    the rules and strategies registered from outside the package, pickled with their code
    (a worker could not import the researcher's file that defines them)."""
    from abm import mechanisms, strategies

    return ({"rules": mechanisms.for_workers()} if mechanisms.user_registered() else {}) | (
        {"strategies": strategies.for_workers()} if strategies.user_registered() else {})


def install_context(context: dict[str, Any]) -> None:
    """Make a worker know what the driver knew (:func:`driver_context`) before it runs tasks."""
    from abm import mechanisms, strategies
    from abm.denmark import SmallMunicipalityWarning

    # The driver checked every task's config before shipping it and warned about small
    # municipalities once; a worker checking them again would repeat that on every worker.
    warnings.filterwarnings("ignore", category=SmallMunicipalityWarning)
    if "rules" in context:
        mechanisms.register_from_driver(context["rules"])
    if "strategies" in context:
        strategies.register_from_driver(context["strategies"])


def _worker_batch(function: Callable[[Any], Any], items: list, context: dict[str, Any],
                  preload: tuple[str, ...] = ()) -> list[tuple[Any, str | None]]:
    """A batch as a Ray task: end with the raylet, know what the driver knew, then run; and
    once the batch is done, import ``preload`` behind its result (:func:`_import_behind`)."""
    end_with_parent()
    install_context(context)
    outcomes = [attempt(function, item) for item in items]
    _import_behind(preload)
    return outcomes


def _import_behind(modules: tuple[str, ...]) -> None:
    """Import ``modules`` in a thread of this worker, so that the task's result leaves at
    once: a worker whose runs are done imports the figures' modules while the others finish
    theirs or the driver tabulates, and the figures' tasks wait only for what is left of it
    (Python's import lock). Modules already imported cost nothing."""
    missing = [module for module in modules if module not in sys.modules]
    if missing:
        threading.Thread(target=_import, args=(tuple(missing),), name="abm-preload", daemon=True).start()


_watching_parent = False


def end_with_parent() -> None:
    """Exit this process within ``PARENT_CHECK_S`` once its parent is gone.

    For a Ray worker, whose parent is its raylet: a killed driver takes its embedded raylet
    with it, but a worker busy in a run only notices at the run's end (up to half a minute
    here), and it sits in its own process group, so killing the driver's group does not
    reach it. For the browser server, whose parent is ``abm viz``: killed, it cannot stop it.
    """
    global _watching_parent
    if _watching_parent:
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="abm-end-with-parent", daemon=True).start()
    _watching_parent = True


# -- Ray -------------------------------------------------------------------------------


Finished = tuple[int, Any, str | None]  # an item's index, its result, or the traceback of what it raised


class Executor:
    """Where a batch's work runs, kept for several batches (a comparison's runs, then its figures).

    With ``workers == 1`` and no ``address``: in this process, one item after another. Else
    on Ray, started at the first batch and stopped by :meth:`close`: an embedded Ray with
    ``workers`` CPUs (default: all), or the cluster at ``address`` (or the Ray a Python
    caller connected to, which it keeps). Kept for several batches, Ray starts once, and its
    workers, which have imported ``abm`` for the first batch, take the next at once. No
    item runs in this process when Ray does: a run that kills its process is retried.
    ``preload`` names modules the work after the first batch needs (a comparison's figures:
    matplotlib): each worker imports them as its last items of that batch end, while the
    others finish theirs, instead of when that work arrives.
    """

    def __init__(self, workers: int | None = None, address: str | None = None, preload: tuple[str, ...] = ()):
        self.local = address is None and workers == 1
        self.preload = preload  # modules the next batch's items import: see map
        self.workers = workers or os.cpu_count() or 1
        self.address = address
        self._started = False  # this executor started Ray (and stops it)
        self._early: _EarlyStart | None = None  # the early start it took, whose thread keeps Ray's processes alive

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def map(self, function: Callable[[Any], Any], items: list) -> Iterator[Finished]:
        """``function`` of every item (picklable, both), each as it finishes: (index, result, error)."""
        if self.local:
            for index, item in enumerate(items):
                yield (index, *attempt(function, item))
            return
        import ray

        if not self._started:
            self._early = _take_early(self.workers, self.address)
            if self._early is not None or not ray.is_initialized():
                if not ray.is_initialized():
                    connect(self.workers, self.address)
                self._started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        context = driver_context()
        remote = ray.remote(_worker_batch).options(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)
        # submitted largest first; Ray starts a caller's tasks of one function in the order
        # they were submitted. The last batch of each CPU starts importing the modules the
        # next batch will need as it ends (a task of its own would not wait its turn: Ray
        # starts tasks of different functions in any order, and did start them first).
        ordered = list(batches(list(range(len(items))), cpus))
        pending = {remote.remote(function, [items[i] for i in batch], context,
                                 self.preload if number >= len(ordered) - cpus else ()): batch
                   for number, batch in enumerate(ordered)}
        self.preload = ()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            batch = pending.pop(ready[0])
            try:
                outcomes = ray.get(ready[0])
            except ray.exceptions.RayError as error:  # retries used up: the worker or its node kept dying
                outcomes = [(None, f"{type(error).__name__} after {MAX_RETRIES} retries: {error}")] * len(batch)
            for index, outcome in zip(batch, outcomes):
                yield (index, *outcome)

    def close(self) -> None:
        """Stop the Ray this executor started."""
        if self._started:
            self._started = False
            _stop_ray(embedded=self.address is None, early=self._early)
            self._early = None


def _stop_ray(embedded: bool, early: _EarlyStart | None = None) -> None:
    """Stop the Ray this process started or joined; then let the thread of its early start end."""
    import ray

    if embedded:
        _end_monitor()
    ray.shutdown()
    if early is not None:
        early.stopped.set()


# -- the embedded Ray, started while the command line imports ---------------------------


@dataclass
class _EarlyStart:
    """An embedded Ray started in a background thread. The thread lives until Ray is stopped:
    Ray's daemons end with the thread that started them (Linux's parent-death signal)."""

    workers: int
    thread: threading.Thread | None = None
    ended: threading.Event = field(default_factory=threading.Event)    # the start has ended, started or failed
    stopped: threading.Event = field(default_factory=threading.Event)  # Ray was stopped: the thread may end
    started: bool = False                  # this start made the Ray that is up
    error: BaseException | None = None     # what stopped the start


_early: _EarlyStart | None = None


def start_early(workers: int) -> None:
    """Start the embedded Ray with ``workers`` CPUs in a background thread and return at once.

    Ray takes 2-3 s to start and the command line as long to import the model and read its
    input (on 2 CPUs): one while the other. As soon as Ray is up its workers import the
    model (:func:`_warm_up`), while the driver still reads its input. The first
    :class:`Executor` that wants an embedded Ray of ``workers`` CPUs takes this one (and
    stops it at its close); :func:`end_early` stops it if none did. Until
    :func:`wait_early` returns, this process's working folder may be Ray's
    (:func:`_working_folder`): read no relative path before.
    """
    global _early
    if _early is not None:
        return
    _early = early = _EarlyStart(workers)
    early.thread = threading.Thread(target=_start_in_background, args=(early,), name="abm-ray-start", daemon=True)
    early.thread.start()


def _start_in_background(early: _EarlyStart) -> None:
    try:
        _quiet_not_main_thread_notice()
        import ray

        if ray.is_initialized():  # a Python caller's own Ray: the executor uses it, as without an early start
            return
        connect(early.workers, None)
        early.started = True
        for _ in range(early.workers):  # the result is not needed: the task runs all the same
            ray.remote(_import).options(num_cpus=1).remote(("abm.simulate",))
    except BaseException as error:  # given to whoever takes or ends the start
        early.error = error
    finally:
        early.ended.set()
    if early.started:
        early.stopped.wait()


def wait_early() -> None:
    """Wait until the early start (:func:`start_early`), if any, has started Ray or failed."""
    if _early is not None:
        _early.ended.wait()


def _take_early(workers: int, address: str | None) -> _EarlyStart | None:
    """The early start whose Ray an executor of ``workers`` CPUs at ``address`` takes, if any
    (raising what stopped the start); a Ray of another size is stopped, and a new one started."""
    global _early
    if _early is None:
        return None
    wait_early()
    early, _early = _early, None
    if early.error is not None:
        raise early.error
    if early.started and (address is not None or workers != early.workers):
        _stop_ray(embedded=True, early=early)
        return None
    return early if early.started else None


def end_early() -> None:
    """Stop the early-started Ray if no executor took it (a mistake in the input, another
    size, Ctrl+C), once its start has ended: nothing of it is left running."""
    global _early
    if _early is None:
        return
    wait_early()
    early, _early = _early, None
    if early.started:
        _stop_ray(embedded=True, early=early)


def _import(modules: tuple[str, ...]) -> None:
    """Import ``modules`` in a worker ahead of the work that needs them: the model while the
    driver reads its input (a task), the figures' modules at a batch's tail (:func:`_import_behind`)."""
    end_with_parent()
    for module in modules:
        importlib.import_module(module)


def _ray_private(module: str) -> Any | None:
    """Ray's private module ``ray._private.<module>``, or None where this Ray has none.

    The one door to Ray's private names; every use has a fallback for a Ray without them:
    the loopback setting re-read (without it, the embedded Ray refuses to run rather than
    listen beyond 127.0.0.1), the monitor ended first (the shut-down takes a second longer),
    the token notice silenced (it is shown).
    """
    try:
        return importlib.import_module(f"ray._private.{module}")
    except ImportError:
        return None


def _end_monitor() -> None:
    """Make ``ray.shutdown`` a second shorter. Ray stops its autoscaler's monitor (of no use on one
    machine) after the GCS, to which the monitor's SIGTERM handler then reports in vain
    until Ray kills it a second later (ray/_private/node.py, kill_all_processes); killed
    first, it costs nothing."""
    worker, constants = _ray_private("worker"), _ray_private("ray_constants")
    with contextlib.suppress(AttributeError):
        node = worker._global_node if worker else None
        for process in node.all_processes.get(constants.PROCESS_TYPE_MONITOR, []) if node and constants else []:
            process.process.kill()


def connect(workers: int, address: str | None) -> None:
    """Start an embedded Ray with ``workers`` CPUs, or join the cluster at ``address``.

    The embedded Ray listens on 127.0.0.1 only: Ray binds its servers to all interfaces
    unless the node's address is loopback, and turns a requested 127.0.0.1 into the
    machine's network address unless ``LOOPBACK_ONLY_ENV`` is 0 (read when Ray is imported,
    here and in every process Ray starts). Its workers give up reaching a GCS that is gone
    after ``WORKER_GCS_RETRIES`` seconds rather than 20, so a killed driver does not leave
    workers that were starting behind for long. Ray starts in the folder that holds the
    ``abm`` package this process runs: Ray puts the driver's working folder first on every
    worker's path, and a folder holding another ``abm/`` (a clone beside the installed one)
    would be imported instead. Usage statistics are off for the embedded Ray
    (``USAGE_STATS_ENV``): nothing leaves the machine, and its start is shorter. Ray runs
    its workers at niceness 15 by default, so on a busy machine any other process starves
    the runs; the embedded Ray's run at normal priority, like a serial run. (Cluster nodes
    keep what ``ray start`` gave them: ``RAY_worker_niceness=0``.)

    The embedded Ray admits only processes holding this process's token
    (:func:`embedded_token_file`, readable by its user only); Ray's own default would write
    ``~/.ray/auth_token`` readable by every local user. Joining a cluster, the token file
    Ray reads is made readable by its user only (:func:`keep_private`). Ray replaces the
    command line's handlers of SIGINT and SIGTERM with its own: they are put back
    (:func:`abm.signals.ray_starting`).
    """
    with signals.ray_starting():
        _start_or_join(workers, address)


def _start_or_join(workers: int, address: str | None) -> None:
    if address is None:
        _use_private_token()
        with _environment({LOOPBACK_ONLY_ENV: "0", USAGE_STATS_ENV: "0"}), _working_folder(PACKAGE_HOME):
            import ray

            _quiet_token_notice()
            _reread_loopback_setting()
            with _environment({GCS_RETRIES_ENV: str(WORKER_GCS_RETRIES)}):  # after the import: not this process's
                try:
                    ray.init(address="local", num_cpus=workers, object_store_memory=EMBEDDED_OBJECT_STORE_BYTES,
                             include_dashboard=False, logging_level=logging.WARNING, _system_config={"worker_niceness": 0})
                except BaseException:  # e.g. stopped by a signal while starting: stop what had started
                    ray.shutdown()
                    _end_ray_children()
                    raise
        _reread_loopback_setting()
        node = ray.util.get_node_ip_address()
        if node != "127.0.0.1":
            ray.shutdown()
            raise RuntimeError(f"the embedded Ray took {node} as its address instead of 127.0.0.1 and was stopped")
        return
    import ray

    keep_private(Path(os.environ.get(AUTH_TOKEN_FILE_ENV) or Path.home() / DEFAULT_TOKEN_FILE))
    with _working_folder(PACKAGE_HOME):
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except (ConnectionError, ray.exceptions.AuthenticationError) as error:
            raise UserError(f"--address {address}: cannot join the Ray cluster: {error}") from None


@functools.cache
def embedded_token_file() -> Path:
    """The file holding this process's token for its embedded Ray: 256 random bits, mode 0600
    in a folder of mode 0700, removed when the process ends. One token per process: Ray
    keeps the first token it read for the process's life."""
    folder = Path(tempfile.mkdtemp(prefix="abm-ray-"))  # mode 0700
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "auth_token"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(secrets.token_hex(32))
    return path


TOKEN_NOTICE = "Token authentication is enabled for this Ray cluster"
NOT_MAIN_THREAD_NOTICE = "SIGTERM handler is not set because current thread is not the main thread"


class _DropNotice(logging.Filter):
    """Drops a logger's records that start with ``prefix``: Ray's notices the user cannot act on."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def _drop_notice(logger: Any, prefix: str) -> None:
    if isinstance(logger, logging.Logger) and not any(getattr(f, "prefix", None) == prefix for f in logger.filters):
        logger.addFilter(_DropNotice(prefix))


def _quiet_token_notice() -> None:
    """Keep Ray from telling the user, at every start of the embedded Ray, that it uses a token
    (it does, ours) and how to turn that off (they should not). Ray logs it on its private
    module's logger; a Ray that logs it elsewhere simply shows it."""
    _drop_notice(getattr(_ray_private("authentication.authentication_token_setup"), "logger", None), TOKEN_NOTICE)


def _quiet_not_main_thread_notice() -> None:
    """Keep Ray, started early in a background thread, from saying it set no SIGTERM handler:
    the command line's own handler (:mod:`abm.signals`) stops it cleanly."""
    _drop_notice(logging.getLogger("ray._private.worker"), NOT_MAIN_THREAD_NOTICE)


def _end_ray_children() -> None:
    """End the Ray processes this process had started when Ray's start was cut short: Ray
    stops only a node it has finished starting, and an agent left behind would take many
    seconds to notice its raylet is gone."""
    import psutil
    import ray

    package = os.path.dirname(ray.__file__) + os.sep  # Ray's programs: raylet, gcs_server, its agents' scripts
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            shown = " ".join([child.name(), *child.cmdline()])
            if shown.startswith("ray::") or package in shown:  # a Ray process names itself ray::...
                child.kill()


def _use_private_token() -> None:
    """Point Ray, in this process and those it starts, to this process's token file, for the
    rest of the process's life: Ray keeps the first token it read, so a later Ray started here
    (another batch, or a caller's own ``ray.init``) must be given the same one."""
    os.environ[AUTH_TOKEN_FILE_ENV] = str(embedded_token_file())
    os.environ.pop(AUTH_TOKEN_ENV, None)  # Ray would prefer it to the file


def keep_private(path: Path) -> None:
    """Make a credential file readable and writable by its owner only (mode 0600), saying so
    if it was not: anyone who can read a Ray token can run code on that Ray."""
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(0o600)
            print(f"abm: {path} was readable by other users (mode {mode:04o}); made it private (0600)", file=sys.stderr)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment for a while; the processes Ray starts inherit them."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reread_loopback_setting() -> None:
    """Ray reads ``LOOPBACK_ONLY_ENV`` once, when imported: read it again (this process only)."""
    constants = _ray_private("ray_constants")
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = constants.env_bool(LOOPBACK_ONLY_ENV, not constants.IS_WINDOWS_OR_OSX)


@contextlib.contextmanager
def _working_folder(folder: Path) -> Iterator[None]:
    """This process works in ``folder`` while Ray starts (Ray records it for the workers)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)
