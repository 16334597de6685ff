"""SIGINT and SIGTERM as schedulers and scripts send them: to the PID of a real ``abm`` process.

Each command is started as its own process, with SIGINT ignored as a shell starts a
background job (so the command must install its own handler), and signalled once it has
started its embedded Ray (or its server). It must stop within ``STOP_SECONDS``, exit 130
(SIGINT) or 143 (SIGTERM) with one line and no Ray stack dump, keep what had finished,
and leave none of its processes (Ray's raylet, GCS and workers; the browser server) alive.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from test_calibration import BASE, client_share_target
from test_decision import write_scenarios
from test_sweep_experiment import write_experiment

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
STOP_SECONDS = 15  # generous: the machine running the tests may be busy; stopping takes 2-4 s alone
GONE_SECONDS = 5  # after the command ended, for its processes to be gone
START_SECONDS = 180
SLOW_RUNS = {"run.weeks": 104, "municipalities.count": 4, "municipalities.population_scale": 0.05}
GRID = """
[design]
kind = "grid"
[design.parameters]
"council.caseload_target" = [40, 70, 100, 130, 160, 190]
"""


def ignoring_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a non-interactive shell does for `abm ... &`


def start(args: list[str], folder: Path) -> subprocess.Popen:
    """The command as its own process; stderr to a file (progress bars could fill a pipe nobody reads yet)."""
    with (folder / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "abm.cli", *args], cwd=folder, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True, preexec_fn=ignoring_sigint)
    process.stderr_file = folder / "stderr.txt"
    return process


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def has_raylet(process: subprocess.Popen) -> bool:
    return any("raylet" in (child.name() + " ".join(child.cmdline())) for child in _alive(descendants(process)))


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for child in processes:
        try:
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def stop_when(process: subprocess.Popen, ready, number: int) -> tuple[float, str, list[psutil.Process]]:
    """Signal ``process`` once ``ready()``; return how long it took to end, its stderr, and the
    processes it had started (collected just before the signal and again while it stopped)."""
    deadline = time.monotonic() + START_SECONDS
    try:
        while not ready():
            assert process.poll() is None, f"ended before it could be signalled: {process.stderr_file.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "did not get ready in time"
            time.sleep(0.2)
        children = descendants(process)
        sent = time.monotonic()
        process.send_signal(number)
        process.communicate(timeout=STOP_SECONDS + 30)
        return time.monotonic() - sent, process.stderr_file.read_text(), children
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def assert_stopped_cleanly(process: subprocess.Popen, elapsed: float, stderr: str, children, number: int, command: str):
    assert process.returncode == 128 + number, stderr[-3000:]
    assert elapsed < STOP_SECONDS, f"took {elapsed:.1f} s to stop"
    assert "SIGTERM received" not in stderr and "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.replace("\r", "\n").splitlines()
             if line.startswith(f"abm {command}:") and not line.startswith(f"abm {command}: warning:")]  # a config's notes
    assert len(lines) == 1 and "interrupted" in lines[0], stderr[-3000:]
    assert children, "the command started no process to stop"
    gone, alive = psutil.wait_procs(_alive(children), timeout=GONE_SECONDS)
    assert not _alive(alive), f"left running: {[p.name() for p in _alive(alive)]}"


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_sweep_stops_keeps_finished_runs_and_its_ray(tmp_path, number):
    path = write_experiment(tmp_path, GRID, overrides=SLOW_RUNS, replications=3)
    out = tmp_path / "out"
    process = start(["sweep", str(path), "--workers", "2", "--out", str(out)], tmp_path)
    elapsed, stderr, children = stop_when(process, lambda: len(list((out / "runs").glob("*.parquet"))) >= 2, number)
    assert_stopped_cleanly(process, elapsed, stderr, children, number, "sweep")
    kept = list((out / "runs").glob("*.parquet"))
    assert 2 <= len(kept) < 36 and not (out / "summary.parquet").exists()


def test_compare_stops_with_its_ray(tmp_path):
    settings = [f"{key}={value}" for key, value in SLOW_RUNS.items()]
    process = start(["compare", str(ROOT / "configs" / "compare.toml"), "--workers", "2", "--out", str(tmp_path / "out"),
                     *[arg for setting in settings for arg in ("--set", setting)]], tmp_path)
    elapsed, stderr, children = stop_when(process, lambda: has_raylet(process), signal.SIGTERM)
    assert_stopped_cleanly(process, elapsed, stderr, children, signal.SIGTERM, "compare")


def test_calibrate_stops_with_its_ray_and_keeps_its_study(tmp_path):
    (tmp_path / "base.toml").write_text(BASE)
    targets = tmp_path / "targets.toml"
    targets.write_text('name = "tiny"\nbase = "base.toml"\nreplications = 2\n' + client_share_target())
    out = tmp_path / "out"
    process = start(["calibrate", str(targets), "--params", "labour_market.inflow_per_1000", "--trials", "40",
                     "--workers", "2", "--out", str(out)], tmp_path)
    elapsed, stderr, children = stop_when(process, lambda: has_raylet(process), signal.SIGTERM)
    assert_stopped_cleanly(process, elapsed, stderr, children, signal.SIGTERM, "calibrate")
    assert (out / "study.db").is_file()  # what finished is kept: --resume continues it


def test_optimise_stops_with_its_ray(tmp_path):
    path = write_scenarios(tmp_path, n=3, levers='"council.caseload_target" = [40, 160]')
    process = start(["optimise", str(path), "--objectives", "net_cost_mdkk:min", "--generations", "20", "--workers", "2", "--out", str(tmp_path / "out")], tmp_path)
    elapsed, stderr, children = stop_when(process, lambda: has_raylet(process), signal.SIGINT)
    assert_stopped_cleanly(process, elapsed, stderr, children, signal.SIGINT, "optimise")


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_viz_stops_with_its_server(tmp_path, number):
    from test_viz_browser import free_port

    port = free_port()
    process = start(["viz", str(ROOT / "configs" / "baseline.toml"), "--port", str(port),
                     "--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.05"], tmp_path)
    serving = []

    def ready() -> bool:
        if select.select([process.stdout], [], [], 0.2)[0]:
            serving.append(process.stdout.readline())
        return any("serving" in line for line in serving)

    elapsed, stderr, children = stop_when(process, ready, number)
    assert_stopped_cleanly(process, elapsed, stderr, children, number, "viz")


def test_a_killed_viz_leaves_no_server(tmp_path):
    """SIGKILL cannot be handled: the server notices its parent is gone and ends by itself."""
    from test_viz_browser import free_port, read_line

    process = start(["viz", str(ROOT / "configs" / "baseline.toml"), "--port", str(free_port()),
                     "--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.05"], tmp_path)
    try:
        assert "serving" in read_line(process, START_SECONDS)
        children = descendants(process)
        assert children
    finally:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(_alive(children), timeout=GONE_SECONDS)
    assert not _alive(alive), f"left running: {[p.name() for p in _alive(alive)]}"
