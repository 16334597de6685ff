"""The one batch path of ``abm compare`` and ``abm sweep`` (:mod:`abm.execution`), as a user
meets it: the same bytes serially and on Ray, an embedded Ray that opens nothing beyond
127.0.0.1 and ends with its driver, any working folder, and a resume that tidies up.

Real processes, a real embedded Ray, real Parquet files; nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import psutil
import pytest

from abm import strategies
from abm.cli import early_ray_workers, main
from abm.compare import comparison_tasks, run_comparison
from abm.execution import Executor, batch_tasks, driver_context
from abm.sweep import load_experiment
from conftest import small_config
from test_sweep_experiment import write_experiment

REPO = Path(__file__).resolve().parents[1]
ABM = [sys.executable, "-m", "abm.cli"]
pytestmark = pytest.mark.xdist_group("ray")  # Ray: one at a time under pytest-xdist
TINY = ["--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.02", "--set", "run.weeks=20",
        "--set", "run.burn_in_weeks=4", "--set", "compare.replications=2",
        "--set", 'compare.strategies=["status_quo", "invest", "austerity"]']
LOOPBACK = ("127.0.0.1", "[::ffff:127.0.0.1]", "[::1]")


def environment() -> dict:
    """This interpreter's environment with this checkout first on the path (as pytest has it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_comparison_and_sweep_build_runs_alike():
    """Common random numbers and ids from one builder: a comparison is a batch without points."""
    config = small_config(compare__replications=3, compare__strategies=["invest", "austerity"])
    tasks = comparison_tasks(config)
    assert [t.run_id for t in tasks[:3]] == ["r00-status_quo", "r00-invest", "r00-austerity"]  # the baseline first
    assert tasks == batch_tasks(config, ["status_quo", "invest", "austerity"], 3, config.run.seed, origin=config.origin)
    swept = batch_tasks(config, ["status_quo", "invest", "austerity"], 3, config.run.seed, [{"council.caseload_target": 80.0}])
    assert [t.seed for t in swept] == [t.seed for t in tasks]
    assert swept[4].run_id == "p0000-r01-invest" and swept[4].labels == {"point": 0, "replication": 1, "strategy": "invest"}
    assert swept[4].config.council.caseload_target == 80.0 and swept[4].parameters == {"council.caseload_target": 80.0}


@pytest.mark.slow
def test_compare_gives_the_same_bytes_serially_and_on_two_workers(tmp_path):
    """Every file, figures and report included (drawn on the workers too), and the command
    leaves no process of its embedded Ray behind when it returns."""
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"workers{workers}"
        driver = subprocess.Popen([*ABM, "compare", "configs/compare.toml", *TINY, "--workers", workers, "--out", str(out)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=environment(),
                                  start_new_session=True)
        _, stderr = driver.communicate(timeout=600)
        assert driver.returncode == 0, stderr[-3000:]
        assert "strategy runs: 100%" in stderr and "6/6" in stderr and "failed=0" in stderr  # the sweep's bar
        assert not _left_behind(driver.pid, seconds=3)
        outputs[workers] = out
    files = sorted(path.relative_to(outputs["1"]) for path in outputs["1"].rglob("*") if path.is_file())
    assert {"comparison.txt", "report.html", "plots/overview.png", "plots/differences.svg"} <= {str(f) for f in files}
    for name in files:
        assert (outputs["1"] / name).read_bytes() == (outputs["2"] / name).read_bytes(), name
    runs = pl.read_parquet(outputs["2"] / "runs.parquet")
    assert runs["run_id"].to_list() == [f"r{r:02d}-{s}" for r in range(2) for s in ("status_quo", "invest", "austerity")]
    assert runs.filter(pl.col("replication") == 0)["seed"].n_unique() == 1 and runs["seed"].n_unique() == 2
    assert runs["net_cost_mdkk"].n_unique() == 6  # every run is its own, none a copy of another
    weekly = pl.read_parquet(outputs["2"] / "weekly.parquet")
    assert weekly.columns[:3] == ["run_id", "replication", "week"] and weekly.height == 6 * 20 * 3


def listening(pids: set[int]) -> list[tuple[str, str]]:
    """(local address, process name cut to 15 characters) of every TCP socket these processes listen on."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    fields = [line.split() for line in lines if any(f"pid={pid}," in line for pid in pids)]
    return [(f[3].rsplit(":", 1)[0], f[-1].split('"')[1]) for f in fields]  # users:(("raylet",pid=...))


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _left_behind(session: int, seconds: float) -> list[tuple[int, str]]:
    """The processes of a session still running ``seconds`` after its leader ended (none, or they exit first)."""
    deadline = time.monotonic() + seconds
    while (left := [(p.pid, _name(p)) for p in psutil.process_iter() if _session(p) == session and _alive(p)]) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE  # a zombie has ended; init reaps it
    except psutil.NoSuchProcess:
        return False


def _session(process: psutil.Process) -> int | None:
    try:
        return os.getsid(process.pid)
    except OSError:
        return None


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.NoSuchProcess:
        return ""


def test_the_command_line_reads_the_size_of_its_embedded_ray_before_it_imports_the_commands():
    """What the early start of Ray reads from argv: all CPUs by default, --workers N, and no
    Ray for another command, --workers 1, --address, --help or options it cannot read."""
    cpus = os.cpu_count() or 1
    assert early_ray_workers(["compare"]) == (cpus if cpus > 1 else None)
    assert early_ray_workers(["compare", "configs/compare.toml", "--workers", "3", "--set", "run.weeks=5"]) == 3
    assert early_ray_workers(["compare", "--workers=2"]) == 2
    for argv in (["compare", "--workers", "1"], ["compare", "--address", "10.0.0.5:6379"], ["compare", "--help"],
                 ["compare", "--workers", "two"], ["sweep", "x.toml", "--workers", "2"], ["run", "--workers", "2"], []):
        assert early_ray_workers(argv) is None, argv


@pytest.mark.slow
def test_a_refused_compare_stops_the_ray_it_started_early(tmp_path):
    """``abm compare`` starts its Ray before it has read its input: refused (exit 2, one line),
    it stops that Ray, and no process of it is left."""
    driver = subprocess.Popen([*ABM, "compare", "configs/compare.toml", "--set", "compare.replications=0", "--workers", "2",
                               "--out", str(tmp_path / "out")], cwd=REPO, env=environment(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    raylet_seen = False
    while driver.poll() is None:
        raylet_seen |= any("raylet" in _name(p) for p in psutil.process_iter() if _session(p) == driver.pid)
        time.sleep(0.05)
    _, stderr = driver.communicate()
    assert driver.returncode == 2 and "compare.replications" in stderr, stderr[-3000:]
    assert [line for line in stderr.splitlines() if line.startswith("abm compare:")] == stderr.strip().splitlines()[-1:]
    assert raylet_seen  # Ray had started before the input was read
    assert not _left_behind(driver.pid, seconds=3)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_embedded_ray_listens_on_loopback_only_and_ends_with_its_driver(tmp_path):
    """While a comparison runs on Ray, every socket its processes listen on is on 127.0.0.1;
    killed (its process group, as a terminal's Ctrl+\\ or a scheduler would), no Ray process
    of it is left a few seconds later."""
    slow = [*TINY, "--set", "run.weeks=400"]
    driver = subprocess.Popen([*ABM, "compare", "configs/compare.toml", *slow, "--workers", "2", "--out", str(tmp_path / "out")],
                              cwd=REPO, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while sum(_name(p) == "ray::_worker_batch" for p in _descendants(driver.pid)) < 2:
            assert driver.poll() is None and time.monotonic() < deadline, "the comparison ended before both workers ran"
            time.sleep(0.2)
        processes = [psutil.Process(driver.pid), *_descendants(driver.pid)]
        sockets = listening({p.pid for p in processes})
        assert sockets and {address for address, _ in sockets} <= set(LOOPBACK), sockets
        assert {"gcs_server", "raylet", "ray::_worker_ba", psutil.Process(driver.pid).name()[:15]} <= {n for _, n in sockets}
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        killed = time.monotonic()
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes if p.pid != driver.pid):
            assert time.monotonic() - killed < 8, [(p.pid, _name(p)) for p in processes if p.is_running()]
            time.sleep(0.1)
    finally:
        for process in [*_descendants(driver.pid)]:
            process.kill()
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_sweep_runs_from_a_folder_that_holds_another_abm(tmp_path):
    """Ray puts the driver's working folder first on its workers' path: a folder with an
    ``abm/`` of its own (here one that fails on import) must not replace the package."""
    folder = tmp_path / "home"
    (folder / "abm").mkdir(parents=True)
    (folder / "abm" / "__init__.py").write_text("raise ImportError('the abm/ of the working folder was imported')\n")
    path = write_experiment(folder)
    # -P: the working folder is not on the driver's own path, as with the installed `abm` command
    done = subprocess.run([sys.executable, "-P", "-m", "abm.cli", "sweep", path.name, "--workers", "2", "--out", "out"],
                          cwd=folder, env=environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = pl.read_parquet(folder / "out" / "summary.parquet")
    assert summary.height == len(load_experiment(path).tasks()) and not (folder / "out" / "failures.parquet").exists()


@pytest.mark.slow
def test_an_executor_keeps_its_ray_for_several_batches_and_catches_what_raises():
    """Two batches on one embedded Ray (its workers, not the driver, run every item), every
    item comes back once, one that raises comes back with its traceback, and Ray stops
    when the executor closes."""
    import ray

    def where(item: int) -> int:  # defined here, so Ray pickles it by value: no worker can import this file
        """The process an item ran in; item 3 raises."""
        if item == 3:
            raise ValueError("item 3 is broken")
        return os.getpid()

    with Executor(2) as executor:
        first = {index: (pid, error) for index, pid, error in executor.map(where, list(range(40)))}
        session = ray.get_runtime_context().get_job_id()
        second = {index: (pid, error) for index, pid, error in executor.map(where, list(range(4)))}
        assert ray.get_runtime_context().get_job_id() == session and ray.cluster_resources()["CPU"] == 2
    for outcomes in (first, second):
        assert outcomes[3][0] is None and "ValueError: item 3 is broken" in outcomes[3][1]
        assert all(error is None and pid != os.getpid() for index, (pid, error) in outcomes.items() if index != 3)
    assert sorted(first) == list(range(40)) and sorted(second) == list(range(4))
    assert not ray.is_initialized()


@pytest.mark.slow
def test_each_worker_imports_the_next_batchs_modules_behind_its_last_item():
    """An executor's ``preload`` is imported by each worker once its last item of the batch is
    done: not before the items (Ray had started separate import tasks first, both on one
    worker), and by every worker, so that the next batch (a comparison's figures) finds it."""

    def loaded(wait: float) -> tuple[int, bool]:  # pickled by value, like `where` above
        """This worker's process and whether it has imported colorsys (which nothing else does)."""
        time.sleep(wait)  # both items at once: one on each worker
        return os.getpid(), "colorsys" in sys.modules

    with Executor(2, preload=("colorsys",)) as executor:
        before = [result for _, result, _ in executor.map(loaded, [1.0, 1.0])]
        after = [result for _, result, _ in executor.map(loaded, [1.0, 1.0])]
    assert len({pid for pid, _ in before}) == 2 and {pid for pid, _ in after} == {pid for pid, _ in before}
    assert not any(imported for _, imported in before) and all(imported for _, imported in after)


def test_resume_removes_the_temporary_files_of_a_killed_write(tmp_path):
    path = write_experiment(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--workers", "1", "--out", str(out)]) == 0
    summary = (out / "summary.parquet").read_bytes()
    stale = [out / ".summary.parquet.k1ll3d.tmp", out / "runs" / ".p0000-r00-invest.parquet.x8a2qz.tmp",
             out / "weekly" / ".p0001-r01-status_quo.parquet.0vn3te.tmp", out / "failed" / ".p0000-r01-invest.json.ab12cd.tmp"]
    for file in stale:
        file.write_bytes(b"half a file")
    assert main(["sweep", str(path), "--workers", "1", "--out", str(out), "--resume"]) == 0
    assert not any(file.exists() for file in stale)
    assert (out / "summary.parquet").read_bytes() == summary


@pytest.mark.slow
def test_strategies_registered_by_the_driver_reach_the_workers():
    """A strategy registered in this process (defined in this test file, which no worker
    can import) runs on Ray workers through the batches' context, as it runs serially."""
    @strategies.register_strategy("test_hold_40", doc="hires or cuts to 40 cases per caseworker", replace=True)
    def hold_40(decision):
        return np.ceil(decision.ordinary_clients / 40)  # far from the status quo: the difference shows even in tiny municipalities

    try:
        assert set(driver_context()) == {"strategies"}
        config = small_config(compare__replications=1, compare__strategies=["test_hold_40"], run__weeks=30,
                              municipalities__count=3, municipalities__population_scale=0.02)
        on_ray, _, _ = run_comparison(config, workers=2)
        serial, _, _ = run_comparison(config, workers=1)
        assert on_ray.equals(serial) and on_ray["strategy"].to_list() == ["status_quo", "test_hold_40"]
        assert on_ray["caseworkers_final"][0] != on_ray["caseworkers_final"][1]  # the strategy's own rule ran
    finally:
        strategies.unregister("test_hold_40")
    assert driver_context() == {}
