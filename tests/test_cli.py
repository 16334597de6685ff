"""The command line as a user runs it: real processes, real files, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.02",
        "--set", "run.weeks=20", "--set", "run.burn_in_weeks=4"]


def abm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "abm.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_run_writes_parquet_and_prints_a_summary(tmp_path):
    out = tmp_path / "run"
    done = abm("run", "configs/baseline.toml", *TINY, "--seed", "5", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "trust_mean" in done.stdout
    weekly = pl.read_parquet(out / "weekly.parquet")
    summary = pl.read_parquet(out / "summary.parquet")
    assert weekly.height == 20 * 3 and summary["seed"][0] == 5


@pytest.mark.slow
def test_compare_writes_table_plots_and_report(tmp_path):
    out = tmp_path / "cmp"
    done = abm("compare", "configs/compare.toml", *TINY, "--workers", "1", "--set", "compare.replications=2",
               "--set", 'compare.strategies=["status_quo", "invest"]', "--out", str(out))
    assert done.returncode == 0, done.stderr
    runs = pl.read_parquet(out / "runs.parquet")
    assert sorted(runs["strategy"].unique()) == ["invest", "status_quo"] and runs.height == 4
    assert (out / "plots" / "overview.png").stat().st_size > 10_000
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 6 and "invest" in report
    assert "Payback against the baseline" in (out / "comparison.txt").read_text()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["validate", "configs/nope.toml"], "no such config file"),
        (["run", "configs/baseline.toml", "--set", "council.strategy=bogus"], "council.strategy"),
        (["run", "configs/baseline.toml", "--set", "trust.social_rate=7"], "trust.social_rate = 7"),
        (["compare", "--workers", "0"], "--workers 0: expected a whole number from 1 to 4,096"),
        (["compare", "--workers", "2", "--address", "127.0.0.1:1"], "with --address the cluster's CPUs are used"),
        (["compare", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: cannot reach a Ray head there"),
    ],
)
def test_user_mistakes_exit_2_with_one_clear_line(args, fragment):
    done = abm(*args)
    assert done.returncode == 2
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr


def test_unwritable_output_folder_is_a_clear_error_and_leaves_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions; use a path under a file instead
        target = tmp_path / "a-file"
        target.write_text("")
        out = target / "results"
    else:
        out = locked / "results"
    done = abm("run", "configs/baseline.toml", *TINY, "--out", str(out))
    assert done.returncode == 2
    assert "cannot be written" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_output_piped_into_head_ends_quietly():
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(f"'{sys.executable}' -m abm.cli validate configs/baseline.toml --show | head -1", shell=True,
                          capture_output=True, text=True, cwd=repo, timeout=120)
    # stderr may carry the config's own warnings (a small municipality), never a broken pipe's traceback
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "validate", "viz", "check", "calibrate", "discover",
                                     "robustness", "optimise"])
def test_each_help_says_what_the_command_does_writes_how_long_and_its_exit_statuses(command, capsys):
    from abm.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "exit status: 0" in text and " 2 " in text  # every status the command can end with
    assert "writes" in text.lower()  # what it writes (or "Writes nothing")
    assert any(word in text for word in ("takes", "Takes", "Time:", "starts in")), "how long it takes"
    assert "default" in text  # its defaults


def test_viz_stopped_says_so_and_claims_no_results(tmp_path, capsys, monkeypatch):
    """Ctrl+C is how viz ends: its one line says the app stopped, and nothing about results kept."""
    import abm.commands.viz as viz_command
    from abm.cli import main
    from test_viz_browser import free_port

    servers = []

    def interrupted(server, host, port):  # Ctrl+C while the (real) server starts
        servers.append(server)
        raise KeyboardInterrupt

    monkeypatch.setattr(viz_command, "wait_until_serving", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["viz", str(ROOT / "configs" / "baseline.toml"), *TINY, "--port", str(free_port())]) == 130
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("abm viz:")]
    assert lines == ["abm viz: interrupted; the browser app stopped (it writes nothing)"]
    assert servers and servers[0].poll() is not None  # the server ended with the command
    assert list(tmp_path.iterdir()) == []


def test_compare_interrupted_before_a_run_finished_removes_its_folder_and_says_so(tmp_path, capsys, monkeypatch):
    import abm.commands.compare as compare_command
    from abm.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_command, "run_comparison", interrupted)
    out = tmp_path / "new" / "cmp"
    assert main(["compare", str(ROOT / "configs" / "compare.toml"), *TINY, "--workers", "1", "--out", str(out)]) == 130
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("abm compare:")]
    assert lines == [f"abm compare: interrupted; nothing was kept (removed {tmp_path / 'new'}, which this command had made)"]
    assert list(tmp_path.iterdir()) == []
