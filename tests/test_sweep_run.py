"""Sweeps on Ray: same bytes as serial, failures recorded, dead workers retried,
an interrupted sweep resumed, and a real two-node cluster on 127.0.0.1.

Failures are injected through ``run_sweep``'s ``runner`` (the function that runs one
simulation): a wrapper around the real ``run_simulation`` that raises, or kills its own
worker process, for chosen design points. The model itself is never altered.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import psutil
import pytest

from abm.cli import main
from abm.simulate import run_simulation
from abm.sweep import load_experiment, run_sweep
from test_sweep_experiment import write_experiment

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # Ray: one at a time under pytest-xdist
ABM = [sys.executable, "-m", "abm.cli"]


def run_ids(experiment) -> list[str]:
    return sorted(task.run_id for task in experiment.tasks())


def assert_complete(out: Path, experiment) -> pl.DataFrame:
    """Every run exactly once in the summary and in the weekly dataset."""
    summary = pl.read_parquet(out / "summary.parquet")
    assert summary["run_id"].to_list() == run_ids(experiment)
    weekly = pl.scan_parquet(out / "weekly" / "*.parquet").group_by("run_id").agg(pl.len()).collect().sort("run_id")
    rows = experiment.base.run.weeks * experiment.base.municipalities.count
    assert weekly["run_id"].to_list() == run_ids(experiment) and set(weekly["len"]) == {rows}
    return summary


def modified_times(out: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in (out / "runs").glob("*.parquet")}


def test_serial_and_ray_give_the_same_bytes(tmp_path):
    path = write_experiment(tmp_path)
    assert main(["sweep", str(path), "--workers", "1", "--out", str(tmp_path / "serial")]) == 0
    assert main(["sweep", str(path), "--workers", "2", "--out", str(tmp_path / "ray")]) == 0
    experiment = load_experiment(path)
    serial = assert_complete(tmp_path / "serial", experiment)
    assert_complete(tmp_path / "ray", experiment)
    assert (tmp_path / "serial" / "summary.parquet").read_bytes() == (tmp_path / "ray" / "summary.parquet").read_bytes()
    assert (tmp_path / "serial" / "table.parquet").read_bytes() == (tmp_path / "ray" / "table.parquet").read_bytes()
    assert (tmp_path / "ray" / "plots" / "curves.png").stat().st_size > 10_000
    assert {"council.caseload_target", "strategy", "replication", "seed", "config", "trust_mean"} <= set(serial.columns)
    invest = serial.filter(pl.col("strategy") == "invest")
    assert invest["trust_mean"].n_unique() > 1  # the varied parameter reaches the model


def test_a_run_that_raises_is_recorded_and_the_rest_finish(tmp_path):
    def fails_at_160(config, seed):
        if config.council.caseload_target == 160 and config.council.strategy == "invest":
            raise ValueError("injected failure at caseload 160")
        return run_simulation(config, seed)

    experiment = load_experiment(write_experiment(tmp_path))
    out = tmp_path / "out"
    _, summary, failures = run_sweep(experiment, out, workers=2, runner=fails_at_160)
    assert summary.height == 6 and failures.height == 2
    assert set(failures["run_id"]) == {"p0001-r00-invest", "p0001-r01-invest"}
    assert failures["error"].to_list() == ["ValueError: injected failure at caseload 160"] * 2
    assert '"council.caseload_target": 160.0' in failures["parameters"][0] and "Traceback" in failures["traceback"][0]
    assert not (out / "weekly" / "p0001-r00-invest.parquet").exists()

    written = modified_times(out)
    _, summary, failures = run_sweep(experiment, out, resume=True, workers=1)  # the failed runs again, now without the fault
    assert failures.height == 0 and not (out / "failures.parquet").exists()
    assert_complete(out, experiment)
    assert {name: t for name, t in modified_times(out).items() if name in written} == written  # done runs not redone


def test_a_worker_killed_mid_task_is_retried(tmp_path):
    marker = tmp_path / "killed-once"

    def dies_once(config, seed):
        if config.council.caseload_target == 160 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)  # the Ray worker process dies mid-task
        return run_simulation(config, seed)

    experiment = load_experiment(write_experiment(tmp_path))
    _, summary, failures = run_sweep(experiment, tmp_path / "out", workers=2, runner=dies_once)
    assert marker.exists() and failures.height == 0
    assert_complete(tmp_path / "out", experiment)


def test_a_killed_driver_resumes_without_losing_or_repeating_runs(tmp_path):
    slower = {"run.weeks": 52, "municipalities.count": 4, "municipalities.population_scale": 0.05}
    path = write_experiment(tmp_path, GRID_SIX, overrides=slower, replications=3)
    out = tmp_path / "out"
    driver = subprocess.Popen([*ABM, "sweep", str(path), "--workers", "2", "--out", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "runs").glob("*.parquet"))) < 4:
            assert driver.poll() is None and time.monotonic() < deadline, "the sweep ended before it could be interrupted"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        _kill_group(driver.pid)  # the embedded Ray processes the killed driver left behind
    experiment = load_experiment(path)
    finished = len(list((out / "runs").glob("*.parquet")))
    assert 4 <= finished < len(experiment.tasks()) and not (out / "summary.parquet").exists()

    written = modified_times(out)
    assert main(["sweep", str(path), "--workers", "2", "--out", str(out), "--resume"]) == 0
    resumed = assert_complete(out, experiment)
    assert {name: t for name, t in modified_times(out).items() if name in written} == written  # done runs not redone
    _, reference, _ = run_sweep(experiment, tmp_path / "reference", workers=1)
    assert resumed.equals(reference)


GRID_SIX = """
[design]
kind = "grid"
[design.parameters]
"council.caseload_target" = [40, 70, 100, 130, 160, 190]
"""


# -- a real Ray cluster on 127.0.0.1: a head and a second node, started as processes ----


@pytest.fixture
def cluster():
    """A head and a worker node (one CPU each), with their own token and temp folders.

    Stopped by ending the processes of these two nodes only: ``ray stop`` would stop every
    Ray on the machine, other users' too.
    """
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(32).hex()}
    folders = [tempfile.mkdtemp(prefix="rayh", dir="/tmp"), tempfile.mkdtemp(prefix="rayw", dir="/tmp")]
    ray = str(Path(sys.executable).with_name("ray"))
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--node-ip-address=127.0.0.1"]
    try:
        subprocess.run([ray, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={folders[0]}", *common],
                       env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([ray, "start", f"--address=127.0.0.1:{port}", f"--temp-dir={folders[1]}", *common],
                       env=env, check=True, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}", env
    finally:
        _stop_nodes(folders)


def _stop_nodes(folders: list[str]) -> None:
    """End the processes of the nodes using these temp folders, and their children (the
    agents rename themselves, so only their parents show the folder)."""
    nodes = [p for p in psutil.process_iter(["cmdline"]) if any(f in " ".join(p.info["cmdline"] or []) for f in folders)]
    processes = {p.pid: p for node in nodes for p in [node, *_children(node)]}.values()
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    for process in psutil.wait_procs(list(processes), timeout=5)[1]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_a_sweep_on_a_two_node_cluster(tmp_path, cluster):
    address, env = cluster
    path = write_experiment(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run([*ABM, "sweep", str(path), "--address", address, "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trust_mean" in result.stdout
    experiment = load_experiment(path)
    summary = assert_complete(out, experiment)
    _, reference, _ = run_sweep(experiment, tmp_path / "reference", workers=1)
    assert summary.equals(reference)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
