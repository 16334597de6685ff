"""Damaged and foreign files, dangerous paths, out-of-range options (issue 23): one clear line, nothing changed.

Every case runs ``abm.cli.main`` in-process in a fresh working folder that holds the inputs
it needs, and asserts (``assert_clean_refusal``): exit status 2; no traceback; exactly one
line on stderr holding the fragments (the file or option, the key or value, what is
allowed); and no file or folder changed anywhere under the working folder, compared by a
snapshot of every entry's size and modification time before and after. A property test
(hypothesis) writes random bytes, truncations and wrong JSON, Parquet and SQLite into each
kind of file the commands read and asserts the same clean refusal.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from abm.cli import main
from abm.studies import study_storage

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "configs" / "baseline.toml"
TINY = ["--set", "municipalities.count=2", "--set", "municipalities.population_scale=0.02",
        "--set", "run.weeks=8", "--set", "run.burn_in_weeks=2"]
HUGE = "municipalities.sizes=[" + ", ".join(["10000000"] * 98) + "]"
LONG = "x" * 100_000
TARGETS_BASE = "[run]\nweeks = 8\nburn_in_weeks = 2\nseed = 7\n[municipalities]\ncount = 2\npopulation_scale = 0.02\n"
TARGET = '[[targets]]\nname = "clients"\nstatistic = "client_share"\nvalue = 0.05\nse = 0.003\n'
EXPERIMENT = (f'base = {json.dumps(str(BASELINE))}\n[set]\n"municipalities.count" = 2\n'
              '"municipalities.population_scale" = 0.02\n"run.weeks" = 8\n"run.burn_in_weeks" = 2\n'
              '[design]\nkind = "grid"\n[design.parameters]\n"council.caseload_target" = [40, 60]\n')
LEVERS = (f'base = {json.dumps(str(BASELINE))}\nstrategies = ["status_quo", "invest"]\n[set]\n"municipalities.count" = 2\n'
          '"municipalities.population_scale" = 0.02\n"run.weeks" = 8\n"run.burn_in_weeks" = 2\n'
          '[uncertainties]\nn = 2\n[uncertainties.bounds]\n"trust.social_rate" = [0.1, 0.2]\n'
          '[levers]\n"council.caseload_target" = [40, 60]\n')


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    entries = {}
    for path in folder.rglob("*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        entries[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return entries


def printed_lines(err: str) -> list[str]:
    """The lines a terminal shows: a progress bar overwritten (``\\r``) by a later line is gone."""
    return [line.rsplit("\r", 1)[-1] for line in err.strip().split("\n") if line.rsplit("\r", 1)[-1].strip()]


SHIPPED = [REPO / name for name in ("configs", "experiments", "targets")]
"""The repository's inputs, which no refused command may change either."""


def snapshot(folder: Path) -> dict:
    return {"work": tree(folder), **{str(shipped): tree(shipped) for shipped in SHIPPED}}


def assert_clean_refusal(argv: list[str], fragments: list[str], folder: Path, capsys) -> str:
    capsys.readouterr()
    before = snapshot(folder)
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, f"exit status {status} for {argv}: {err}"
    assert "Traceback" not in err
    lines = printed_lines(err)
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert len(lines[0]) < 2500, "the line quotes too much"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} missing from: {lines[0]}"
    assert snapshot(folder) == before, "a file or folder was written or changed"
    return lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.toml").write_text(TARGETS_BASE)
    (tmp_path / "targets.toml").write_text(f'name = "tiny"\nbase = "base.toml"\nreplications = 1\n{TARGET}')
    (tmp_path / "experiment.toml").write_text(EXPERIMENT)
    (tmp_path / "levers.toml").write_text(LEVERS)
    return tmp_path


# -- sweep folders: damaged or foreign ------------------------------------------------

SUMMARY = pl.DataFrame({"run_id": ["p0000-r00-status_quo", "p0001-r00-status_quo"], "point": [0, 1], "replication": [0, 0],
                        "strategy": ["status_quo"] * 2, "seed": [1, 1], "council.caseload_target": [40.0, 60.0],
                        "trust_mean": [0.5, 0.6], "net_cost_mdkk": [1.0, 2.0]})
MANIFEST = {"experiment": "experiment", "identity": "x", "resolved": {"parameters": ["council.caseload_target"],
                                                                     "strategies": ["status_quo"]}}


def sweep_folder(root: Path, manifest: str | None = None, summary: bytes | None = None) -> Path:
    folder = root / "sweep"
    (folder / "runs").mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(MANIFEST) if manifest is None else manifest)
    if summary is None:
        SUMMARY.write_parquet(folder / "summary.parquet")
    else:
        (folder / "summary.parquet").write_bytes(summary)
    return folder


DAMAGED_SWEEPS = {
    "manifest not JSON": ("{not json", None, ["manifest.json", "damaged", "not a sweep's manifest"]),
    "manifest empty object": ("{}", None, ["manifest.json", "damaged", "resolved parameters and strategies"]),
    "manifest a list": ("[]", None, ["manifest.json", "damaged"]),
    "manifest without strategies": (json.dumps({"resolved": {"parameters": []}}), None, ["manifest.json", "damaged"]),
    "manifest strategies numbers": (json.dumps({"resolved": {"parameters": [], "strategies": [1]}}), None, ["manifest.json"]),
    "manifest empty file": ("", None, ["manifest.json", "damaged"]),
    "manifest binary": ("\udcff\x00\x01", None, ["manifest.json", "damaged"]),
    "summary not Parquet": (None, b"hello, world\n", ["summary.parquet", "not a Parquet file"]),
    "summary empty": (None, b"", ["summary.parquet", "not a Parquet file"]),
    "summary truncated": (None, "truncate", ["summary.parquet", "not a Parquet file"]),
    "summary foreign table": (None, "foreign", ["summary.parquet", "not a sweep's summary", "strategy"]),
}


@pytest.mark.parametrize("command", ["discover", "robustness"])
@pytest.mark.parametrize("case", DAMAGED_SWEEPS)
def test_damaged_sweep_folder(case, command, workdir, capsys):
    manifest, summary, fragments = DAMAGED_SWEEPS[case]
    if summary == "truncate":
        SUMMARY.write_parquet(workdir / "whole.parquet")
        summary = (workdir / "whole.parquet").read_bytes()[:200]
    elif summary == "foreign":
        pl.DataFrame({"a": [1, 2]}).write_parquet(workdir / "foreign.parquet")
        summary = (workdir / "foreign.parquet").read_bytes()
    if manifest is not None and "\udcff" in manifest:
        folder = sweep_folder(workdir)
        (folder / "manifest.json").write_bytes(b"\xff\x00\x01")
    else:
        folder = sweep_folder(workdir, manifest, summary)
    argv = ["discover", str(folder), "--when", "trust_mean > 0.55"] if command == "discover" else ["robustness", str(folder)]
    assert_clean_refusal(argv, fragments, workdir, capsys)


@pytest.mark.slow  # a real sweep or calibration first: about 5 s
def test_runs_is_a_file_on_resume(workdir, capsys):
    folder = workdir / "results" / "experiment"
    folder.mkdir(parents=True)
    assert main(["sweep", "experiment.toml", "--workers", "1", "--out", str(workdir / "ok")]) == 0
    for name in ("manifest.json",):
        (folder / name).write_bytes((workdir / "ok" / name).read_bytes())
    (folder / "runs").write_text("a file where a folder belongs\n")
    assert_clean_refusal(["sweep", "experiment.toml", "--resume", "--workers", "1"], ["runs", "not a folder"], workdir, capsys)


@pytest.mark.slow  # a real sweep or calibration first: about 5 s
def test_a_run_file_that_is_not_parquet_on_resume(workdir, capsys):
    out = workdir / "results" / "experiment"
    assert main(["sweep", "experiment.toml", "--workers", "1"]) == 0
    victim = sorted((out / "runs").glob("*.parquet"))[0]
    victim.write_bytes(b"PAR1 but not really")
    assert_clean_refusal(["sweep", "experiment.toml", "--resume", "--workers", "1"], [victim.name, "not a Parquet file"],
                         workdir, capsys)


def test_resume_on_a_manifest_that_is_empty(workdir, capsys):
    folder = workdir / "results" / "experiment"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    assert_clean_refusal(["sweep", "experiment.toml", "--resume", "--workers", "1"],
                         ["--resume", "results/experiment", "different set of runs"], workdir, capsys)


# -- output folders: nothing overwritten -------------------------------------------------

def test_run_into_a_folder_with_results_is_refused(workdir, capsys):
    out = workdir / "used"
    out.mkdir()
    (out / "summary.parquet").write_bytes(b"earlier results")
    (out / "report.html").write_text("<p>earlier</p>")
    assert_clean_refusal(["run", str(BASELINE), *TINY, "--out", str(out)],
                         ["used", "holds results already", "report.html", "summary.parquet", "--overwrite"], workdir, capsys)


def test_compare_into_a_folder_with_results_is_refused(workdir, capsys):
    out = workdir / "used"
    out.mkdir()
    (out / "comparison.txt").write_text("earlier table\n")
    assert_clean_refusal(["compare", str(BASELINE), *TINY, "--workers", "1", "--out", str(out)],
                         ["used", "holds results already", "comparison.txt", "--overwrite"], workdir, capsys)


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_sweep_folder_is_never_written_by_run_or_compare(command, overwrite, workdir, capsys):
    folder = sweep_folder(workdir)
    argv = [command, str(BASELINE), *TINY, "--out", str(folder), *overwrite] + (["--workers", "1"] if command == "compare" else [])
    assert_clean_refusal(argv, ["sweep", "sweep's results folder", "abm sweep --resume"], workdir, capsys)


@pytest.mark.parametrize("command", ["run", "compare"])
def test_out_that_is_a_file(command, workdir, capsys):
    (workdir / "afile").write_text("mine\n")
    argv = [command, str(BASELINE), *TINY, "--out", "afile"] + (["--workers", "1"] if command == "compare" else [])
    assert_clean_refusal(argv, ["--out", "afile", "is a file"], workdir, capsys)


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "calibrate", "optimise", "discover", "robustness"])
def test_an_out_name_the_system_cannot_use(command, workdir, capsys):
    sweep_folder(workdir)
    argv = {"run": ["run", str(BASELINE), *TINY], "compare": ["compare", str(BASELINE), *TINY, "--workers", "1"],
            "sweep": ["sweep", "experiment.toml", "--workers", "1"], "calibrate": CALIBRATE, "optimise": OPTIMISE,
            "discover": ["discover", "sweep", "--when", "trust_mean > 0.55"], "robustness": ["robustness", "sweep"]}[command]
    assert_clean_refusal([*argv, "--out", LONG], ["--out", "characters cut", "File name too long"], workdir, capsys)


@pytest.mark.parametrize("argv, fragments", [
    (["discover", "sweep", "--when", "trust_mean > 0.55", "--out", "used"], ["used", "holds results already"]),
    (["robustness", "sweep", "--out", "used"], ["used", "holds results already"]),
    (["discover", "sweep", "--when", "trust_mean > 0.55", "--out", "sweep"], ["sweep's results folder"]),
    (["robustness", "sweep", "--out", "sweep"], ["sweep's results folder"]),
    (["discover", "sweep", "--when", "trust_mean > 0.55", "--out", "sweep/runs/d"], ["sweep/runs/d", "inside the sweep's"]),
    (["robustness", "sweep", "--out", "sweep/weekly"], ["sweep/weekly", "inside the sweep's"]),
])
def test_analyses_never_write_into_used_folders(argv, fragments, workdir, capsys):
    sweep_folder(workdir)
    (workdir / "used").mkdir()
    (workdir / "used" / "keep.txt").write_text("mine\n")
    assert_clean_refusal(argv, fragments, workdir, capsys)


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("inside", ["weekly", "runs", "new/deeper"])
def test_nothing_is_written_inside_a_sweep_folder(command, inside, workdir, capsys):
    folder = sweep_folder(workdir)
    (folder / "weekly").mkdir()
    argv = [command, str(BASELINE), *TINY, "--out", str(folder / inside), "--overwrite"]
    argv += ["--workers", "1"] if command == "compare" else []
    assert_clean_refusal(argv, ["--out", inside, "inside the sweep's results folder", "abm sweep --resume"], workdir, capsys)


def test_run_overwrites_only_with_overwrite_and_keeps_other_files(workdir, capsys):
    out = workdir / "again"
    assert main(["run", str(BASELINE), *TINY, "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine\n")
    assert main(["run", str(BASELINE), *TINY, "--out", str(out)]) == 2
    assert main(["run", str(BASELINE), *TINY, "--out", str(out), "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine\n"
    assert pl.read_parquet(out / "summary.parquet").height == 1


def test_an_interrupted_run_removes_the_folder_it_made_and_says_so(workdir, capsys, monkeypatch):
    import abm.commands.run as run_command

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_command, "run_simulation", interrupted)
    before = tree(workdir)
    assert main(["run", str(BASELINE), *TINY, "--out", "results/new/run"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "nothing was kept" in err and "finished results are kept" not in err
    assert tree(workdir) == before  # neither results/new/run nor results/ is left


def test_a_full_disk_is_one_line_and_leaves_nothing_partial(workdir, capsys, monkeypatch):
    """A write that fails with ENOSPC (as on a full disk) after the first file was written."""
    import errno

    import abm.commands.run as run_command
    from abm.results import write_parquet

    calls = []

    def fills_the_disk(frame, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_parquet(frame, path, **kwargs)

    monkeypatch.setattr(run_command, "write_parquet", fills_the_disk)
    before = tree(workdir)
    assert main(["run", str(BASELINE), *TINY, "--out", "results/full"]) == 2
    err = capsys.readouterr().err
    assert len(printed_lines(err)) == 1 and "Traceback" not in err
    assert "results/full" in err and "disk is full" in err
    assert tree(workdir) == before


# -- study files ------------------------------------------------------------------------

def foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE mine (x INTEGER)")
        connection.execute("INSERT INTO mine VALUES (1)")


def other_study(path: Path) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="calibration", storage=study_storage(path)).set_user_attr("identity", {"method": "other"})


STUDIES = {
    "not a database": (lambda p: p.write_text("hello\n"), ["study.db", "not an SQLite database"]),
    "empty file": (lambda p: p.write_bytes(b""), ["study.db", "not an SQLite database"]),
    "random bytes": (lambda p: p.write_bytes(os.urandom(4096)), ["study.db", "not an SQLite database"]),
    "another program's database": (foreign_sqlite, ["study.db", "not an Optuna study", "mine"]),
    "truncated database": ("truncate", ["study.db"]),
    "another study": (other_study, ["study.db", "started for something else", "method"]),
    "a folder": (lambda p: p.mkdir(), ["study.db", "no such study file"]),
}


@pytest.mark.parametrize("case", STUDIES)
def test_resume_refuses_a_study_file_that_is_not_this_calibrations(case, workdir, capsys):
    make, fragments = STUDIES[case]
    out = workdir / "out"
    out.mkdir()
    path = out / "study.db"
    if make == "truncate":
        other_study(workdir / "whole.db")
        path.write_bytes((workdir / "whole.db").read_bytes()[:1500])
    else:
        make(path)
    assert_clean_refusal(["calibrate", "targets.toml", "--params", "labour_market.inflow_per_1000", "--trials", "1",
                          "--resume", "--out", str(out)], ["--resume", *fragments], workdir, capsys)


@pytest.mark.slow  # two calibrations: about 6 s
def test_a_study_of_an_earlier_version_resumes(workdir, capsys):
    """Studies written before the identity named the method and parameters are still this calibration's."""
    out = workdir / "out"
    assert main([*CALIBRATE[:-1], "1", "--out", str(out)]) == 0
    with sqlite3.connect(out / "study.db") as connection:
        (value,) = connection.execute("SELECT value_json FROM study_user_attributes WHERE key = 'identity'").fetchone()
        earlier = {k: v for k, v in json.loads(value).items() if k not in ("method", "parameters")}
        connection.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = 'identity'", (json.dumps(earlier),))
    assert main([*CALIBRATE, "--resume", "--out", str(out)]) == 0
    earlier["replications"] = 3
    with sqlite3.connect(out / "study.db") as connection:
        connection.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = 'identity'", (json.dumps(earlier),))
    assert_clean_refusal([*CALIBRATE[:-1], "3", "--resume", "--out", str(out)], ["started for something else", "replications"],
                         workdir, capsys)


def test_an_interrupted_sweep_removes_the_folder_it_made(workdir, capsys, monkeypatch):
    import abm.sweep.driver as driver

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(driver, "execute", interrupted)
    before = tree(workdir)
    assert main(["sweep", "experiment.toml", "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; nothing was kept (removed results," in err
    assert tree(workdir) == before  # not even manifest.json is left


def test_study_file_in_a_folder_named_like_url_options_stays_in_that_folder(tmp_path):
    import optuna

    folder = tmp_path / "o?mode=ro&x={y}"
    folder.mkdir()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="s", storage=study_storage(folder / "study.db"))
    assert (folder / "study.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


@pytest.mark.slow  # a real sweep or calibration first: about 5 s
def test_calibrate_out_with_url_options_writes_only_into_that_folder(workdir, capsys):
    out = workdir / "o?mode=ro"
    assert main(["calibrate", "targets.toml", "--params", "labour_market.inflow_per_1000", "--trials", "1",
                 "--out", str(out)]) == 0
    assert (out / "study.db").is_file() and (out / "best.toml").is_file()
    assert not (workdir / "o").exists()


# -- config files that cannot be read ------------------------------------------------------

CONFIGS = {
    "nested 100,000 deep": ("[run]\nweeks = " + "[" * 100_000 + "]" * 100_000 + "\n", ["bad.toml", "nested too deeply"]),
    "inline tables 50,000 deep": ("x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n", ["bad.toml", "nested too deeply"]),
    "long strategy name": (f'[council]\nstrategy = "{LONG}"\n', ["bad.toml", "council.strategy", "characters cut", "one of"]),
    "long key": (f"[council]\n{LONG} = 1\n", ["bad.toml", "characters cut", "keys in [council]"]),
    "long section": (f"[{LONG}]\nx = 1\n", ["bad.toml", "characters cut", "sections:"]),
    "binary": ("\x00\x01\x02", ["bad.toml", "not valid TOML"]),
    "description a table": ("description = {a = 1}\n", ["bad.toml", "description", "string"]),
    "weeks a huge number": ("[run]\nweeks = 1e400\n", ["bad.toml", "run.weeks", "whole number"]),
    "scale infinite": ("[municipalities]\npopulation_scale = inf\n", ["bad.toml", "municipalities.population_scale"]),
    "scale nan": ("[municipalities]\npopulation_scale = nan\n", ["bad.toml", "municipalities.population_scale"]),
    "extends a folder": ('extends = "sub"\n', ["bad.toml", "extends", "sub", "is a folder"]),
    "extends a long name": (f'extends = "{LONG}"\n', ["characters cut", "File name too long"]),
    "extends a NUL character": ('extends = "a\\u0000b.toml"\n', ["NUL character"]),
    "extends a loop of links": ('extends = "loop.toml"\n', ["loop.toml", "loop of symbolic links"]),
    "extends a FIFO": ('extends = "fifo.toml"\n', ["fifo.toml", "not a regular file"]),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_config_files_that_cannot_be_read(case, workdir, capsys):
    text, fragments = CONFIGS[case]
    (workdir / "bad.toml").write_text(text, encoding="utf-8", errors="surrogateescape")
    (workdir / "sub").mkdir()
    os.symlink("loop.toml", workdir / "loop.toml")
    os.mkfifo(workdir / "fifo.toml")
    assert_clean_refusal(["validate", "bad.toml"], fragments, workdir, capsys)


@pytest.mark.parametrize("command", ["validate", "run", "compare", "viz"])
@pytest.mark.parametrize("path, fragments", [
    ("/dev/zero", ["/dev/zero", "not a regular file"]),
    ("/dev/null", ["/dev/null", "not a regular file"]),
    ("fifo.toml", ["fifo.toml", "not a regular file"]),
    ("loop.toml", ["loop.toml", "loop of symbolic links"]),
    ("sub", ["sub", "is a folder"]),
    (LONG, ["characters cut"]),
])
def test_paths_that_are_not_config_files(command, path, fragments, workdir, capsys):
    (workdir / "sub").mkdir()
    os.symlink("loop.toml", workdir / "loop.toml")
    os.mkfifo(workdir / "fifo.toml")
    argv = [command, path] + (["--workers", "1"] if command == "compare" else [])
    assert_clean_refusal(argv, fragments, workdir, capsys)


@pytest.mark.parametrize("command", ["sweep", "optimise", "check", "calibrate"])
@pytest.mark.parametrize("path, fragments", [
    ("/dev/zero", ["/dev/zero", "not a regular file"]),
    ("fifo.toml", ["fifo.toml", "not a regular file"]),
    ("loop.toml", ["loop.toml", "loop of symbolic links"]),
    ("sub", ["sub", "is a folder"]),
])
def test_paths_that_are_not_experiment_or_targets_files(command, path, fragments, workdir, capsys):
    (workdir / "sub").mkdir()
    os.symlink("loop.toml", workdir / "loop.toml")
    os.mkfifo(workdir / "fifo.toml")
    extra = {"sweep": ["--workers", "1"], "optimise": ["--objectives", "net_cost_mdkk:min", "--workers", "1"],
             "check": [], "calibrate": ["--params", "labour_market.inflow_per_1000"]}[command]
    assert_clean_refusal([command, path, *extra], fragments, workdir, capsys)


# -- options -------------------------------------------------------------------------------

CALIBRATE = ["calibrate", "targets.toml", "--params", "labour_market.inflow_per_1000", "--trials", "2"]
OPTIMISE = ["optimise", "levers.toml", "--objectives", "net_cost_mdkk:min", "--workers", "1"]
OPTIONS = {
    "calibrate --seed -1": ([*CALIBRATE, "--seed", "-1"], ["--seed", "-1", "from 0 to"]),
    "calibrate --seed 2^40": ([*CALIBRATE, "--seed", str(2**40)], ["--seed", str(2**40), "from 0 to 4,294,967,293"]),
    "calibrate --workers -2": ([*CALIBRATE, "--workers", "-2"], ["--workers", "-2", "from 1"]),
    "calibrate --workers 0": ([*CALIBRATE, "--workers", "0"], ["--workers", "0", "from 1"]),
    "calibrate --trials 0": ([*CALIBRATE, "--trials", "0"], ["--trials", "0", "from 1"]),
    "calibrate --trials huge": ([*CALIBRATE, "--trials", "10000000"], ["--trials", "10000000", "100,000"]),
    "calibrate --replications 0": ([*CALIBRATE, "--replications", "0"], ["--replications", "0", "from 1"]),
    "calibrate unread parameter": (["calibrate", "targets.toml", "--params", "council.caseload_target"],
                                   ["--params", "council.caseload_target", "no experiment", "status_quo", "reads it"]),
    "calibrate unknown parameter": (["calibrate", "targets.toml", "--params", "council.nope"], ["council.nope"]),
    "calibrate long parameter": (["calibrate", "targets.toml", "--params", "council." + LONG], ["characters cut"]),
    "calibrate unreachable address": ([*CALIBRATE, "--address", "127.0.0.1:1"], ["--address 127.0.0.1:1", "cannot reach a Ray head"]),
    "check unreachable address": (["check", "targets.toml", "--address", "127.0.0.1:1"], ["--address 127.0.0.1:1", "cannot reach"]),
    "calibrate too long": ([*CALIBRATE[:-1], "100000"], ["targets.toml", "would take", "--yes"]),
    "check --seed -1": (["check", "targets.toml", "--seed", "-1"], ["--seed", "-1", "from 0 to"]),
    "check --seed 2^70": (["check", "targets.toml", "--seed", str(2**70)], ["--seed", str(2**70)]),
    "check --replications 0": (["check", "targets.toml", "--replications", "0"], ["--replications", "0", "from 1"]),
    "check --replications 10^8": (["check", "targets.toml", "--replications", "100000000"],
                                  ["--replications", "100000000", "1,000"]),
    "check --workers 0": (["check", "targets.toml", "--workers", "0"], ["--workers", "0", "from 1"]),
    "check memory": (["check", "targets.toml", "--set", HUGE, "--set", "municipalities.population_scale=10"],
                     ["targets.toml", "GiB of memory", "--force"]),
    "check too long": (["check", "targets.toml", "--force", "--set", "municipalities.sizes=[10000000, 10000000]",
                        "--set", "municipalities.population_scale=10", "--set", "run.weeks=5200", "--replications", "1000"],
                       ["targets.toml", "would take", "--yes"]),
    "optimise constraint 1.2.3": ([*OPTIMISE, "--constraint", "net_cost_mdkk <= 1.2.3"],
                                  ["--constraint", "1.2.3", "not a number", "OUTCOME <= VALUE"]),
    "optimise constraint nan": ([*OPTIMISE, "--constraint", "net_cost_mdkk <= nan"], ["--constraint", "finite number"]),
    "optimise constraint inf": ([*OPTIMISE, "--constraint", "net_cost_mdkk >= inf"], ["--constraint", "finite number"]),
    "optimise constraint no operator": ([*OPTIMISE, "--constraint", "net_cost_mdkk < 1"], ["--constraint", "OUTCOME <= VALUE"]),
    "optimise constraint long": ([*OPTIMISE, "--constraint", LONG], ["--constraint", "characters cut"]),
    "optimise --population 1": ([*OPTIMISE, "--population", "1"], ["--population", "1", "from 2"]),
    "optimise --population 0": ([*OPTIMISE, "--population", "0"], ["--population", "0", "from 2"]),
    "optimise --generations 0": ([*OPTIMISE, "--generations", "0"], ["--generations", "0", "from 1"]),
    "optimise --generations 100000": ([*OPTIMISE, "--generations", "100000"], ["--generations", "100000", "10,000"]),
    "optimise too long": ([*OPTIMISE, "--generations", "9000", "--population", "9000"], ["levers.toml", "would take", "--yes"]),
    "optimise --workers -2": ([*OPTIMISE[:-2], "--workers", "-2"], ["--workers", "-2", "from 1"]),
    "optimise objectives bad sense": (["optimise", "levers.toml", "--objectives", "net_cost_mdkk:lowest"],
                                      ["--objectives", "net_cost_mdkk:lowest", "OUTCOME:min"]),
    "run too long": (["run", str(BASELINE), "--force", "--set", HUGE, "--set", "municipalities.population_scale=10",
                      "--set", "run.weeks=5200"], ["baseline.toml", "would take", "more than the 2 h", "--yes"]),
    "compare too long": (["compare", str(BASELINE), "--workers", "1", "--force", "--set", HUGE, "--set", "run.weeks=5200"],
                         ["baseline.toml", "would take", "--yes"]),
    "compare --draws 0": (["compare", str(BASELINE), *TINY, "--workers", "1", "--posterior", "accepted.parquet", "--draws", "0"],
                          ["--draws", "0", ">= 1"]),
    "sweep --workers -2": (["sweep", "experiment.toml", "--workers", "-2"], ["--workers", "-2", "from 1"]),
    "compare --workers 100000": (["compare", str(BASELINE), "--workers", "100000"], ["--workers", "100000", "4,096"]),
    "run --seed huge": (["run", str(BASELINE), "--seed", str(2**64)], ["--seed", "run.seed", "<= 9223372036854775807"]),
}


@pytest.mark.parametrize("case", OPTIONS)
def test_options_out_of_range(case, workdir, capsys):
    argv, fragments = OPTIONS[case]
    assert_clean_refusal(argv, fragments, workdir, capsys)


DISCOVER = {
    "--density 1e300": (["--density", "1e300"], ["--density", "1e+300", "above 0 and at most 1"]),
    "--density nan": (["--density", "nan"], ["--density", "nan", "above 0 and at most 1"]),
    "--density -5": (["--density", "-5"], ["--density", "-5", "above 0 and at most 1"]),
    "--density 0": (["--density", "0"], ["--density", "0", "above 0 and at most 1"]),
    "--density inf": (["--density", "inf"], ["--density", "inf", "above 0 and at most 1"]),
}
WHEN = {
    "not an outcome": ("not status_quo.net_cost_mdkk", ["--when", "not", "applies to a condition"]),
    "not inside": ("(not trust_mean) < 1", ["--when", "not 'trust_mean'", "applies to a condition"]),
    "not a number": ("not 1", ["--when", "not", "a condition"]),
    "no comparison": ("status_quo.net_cost_mdkk", ["--when", "not a condition"]),
    "arithmetic only": ("trust_mean + 1", ["--when", "not a condition"]),
    "6,000 terms": (" and ".join(["trust_mean > 0.5"] * 6000), ["--when", "characters", "2,000"]),
    "deep parentheses": ("(" * 1000 + "trust_mean > 0.5" + ")" * 1000, ["--when", "characters"]),
    "250 parentheses": ("(" * 250 + "trust_mean > 0.5" + ")" * 250, ["--when"]),
    "a call": ("__import__('os').system('true') > 0", ["--when", "is not allowed"]),
    "unknown outcome": ("bogus > 1", ["--when", "unknown outcome 'bogus'", "outcomes:"]),
    "unknown strategy": ("nope.trust_mean > 1", ["--when", "unknown strategy 'nope'"]),
    "syntax": ("trust_mean >", ["--when", "not an expression"]),
    "long name": (LONG + " > 1", ["--when", "characters cut"]),
}


@pytest.mark.parametrize("case", DISCOVER)
def test_discover_density(case, workdir, capsys):
    options, fragments = DISCOVER[case]
    sweep_folder(workdir)
    assert_clean_refusal(["discover", "sweep", "--when", "trust_mean > 0.55", *options], fragments, workdir, capsys)


@pytest.mark.parametrize("case", WHEN)
def test_discover_conditions(case, workdir, capsys):
    when, fragments = WHEN[case]
    sweep_folder(workdir)
    assert_clean_refusal(["discover", "sweep", "--when", when], fragments, workdir, capsys)


ADDRESSES = {
    "port too high": ("127.0.0.1:99999", ["--address", "127.0.0.1:99999", "port from 1 to 65535"]),
    "port zero": ("127.0.0.1:0", ["--address", "port from 1 to 65535"]),
    "IPv6 in brackets": ("[::1]:1", ["--address", "[::1]:1", "IPv6"]),
    "no port": ("127.0.0.1", ["--address", "HOST:PORT"]),
    "empty host": (":6379", ["--address", "HOST:PORT"]),
    "space in host": ("my host:6379", ["--address", "neither an IPv4 address nor a host name"]),
    "five numbers": ("1.2.3.4.5:6379", ["--address", "neither an IPv4 address nor a host name"]),
    "octet too big": ("300.1.1.1:6379", ["--address", "neither an IPv4 address nor a host name"]),
    "port not a number": ("127.0.0.1:http", ["--address", "port from 1 to 65535"]),
    "long": (LONG + ":1", ["--address", "characters cut"]),
}
ADDRESS_COMMANDS = {
    "compare": ["compare", str(BASELINE)],
    "sweep": ["sweep", "experiment.toml"],
    "check": ["check", "targets.toml"],
    "calibrate": [*CALIBRATE],
    "optimise": OPTIMISE[:-2],
}


@pytest.mark.parametrize("command", ADDRESS_COMMANDS)
@pytest.mark.parametrize("case", ADDRESSES)
def test_addresses_checked_before_connecting(command, case, workdir, capsys):
    address, fragments = ADDRESSES[case]
    argv = ADDRESS_COMMANDS[command]
    assert_clean_refusal([*argv, "--address", address], fragments, workdir, capsys)


# -- targets and posterior files --------------------------------------------------------------

TARGETS = {
    "value an integer of 401 digits": ('name = "t"\nbase = "base.toml"\n' + TARGET.replace("0.05", "1" + "0" * 400),
                                       ["t.toml", "value", "finite"]),
    "value 10^400": ('name = "t"\nbase = "base.toml"\n' + TARGET.replace("0.05", "1e400"), ["t.toml", "value", "finite"]),
    "se infinite": ('name = "t"\nbase = "base.toml"\n' + TARGET.replace("0.003", "inf"), ["t.toml", "se", "finite"]),
    "value nan": ('name = "t"\nbase = "base.toml"\n' + TARGET.replace("0.05", "nan"), ["t.toml", "value", "finite"]),
    "too large for the memory": ('name = "t"\nbase = "base.toml"\n[set]\n"municipalities.count" = 98\n'
                                 '"municipalities.population_scale" = 10\n' + HUGE.replace("municipalities.sizes=", '"municipalities.sizes" = ')
                                 + "\n" + TARGET, ["t.toml", "GiB of memory", "--force"]),
    "name escapes results": ('name = "x/../../../escaped"\nbase = "base.toml"\n' + TARGET,
                             ["t.toml", "name", "x/../../../escaped", "no / or .."]),
    "name a dot-dot": ('name = ".."\nbase = "base.toml"\n' + TARGET, ["t.toml", "name", "no / or .."]),
    "name long": (f'name = "{LONG}"\nbase = "base.toml"\n' + TARGET, ["t.toml", "name", "characters cut"]),
    "base a folder": ('name = "t"\nbase = "."\n' + TARGET, ["t.toml", "base"]),
    "nested deeply": ('name = "t"\nbase = "base.toml"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n" + TARGET,
                      ["t.toml", "nested too deeply"]),
}


@pytest.mark.parametrize("case", TARGETS)
def test_targets_files(case, workdir, capsys):
    text, fragments = TARGETS[case]
    (workdir / "t.toml").write_text(text)
    assert_clean_refusal(["calibrate", "t.toml", "--params", "labour_market.inflow_per_1000", "--trials", "1"],
                         fragments, workdir, capsys)


POSTERIORS = {
    "value out of range": ({"progress.self_help_share": [5.0], "loss": [0.1]}, ["accepted.parquet",
                                                                                   "progress.self_help_share", "5.0", "<= 1"]),
    "value nan": ({"progress.self_help_share": [float("nan")], "loss": [0.1]}, ["accepted.parquet", "progress.self_help_share"]),
    "no parameters": ({"loss": [0.1]}, ["accepted.parquet", "no calibrated parameters"]),
    "no rows": ({"progress.self_help_share": [], "loss": []}, ["accepted.parquet", "no parameter vector"]),
}


@pytest.mark.parametrize("case", POSTERIORS)
def test_posterior_refused_before_anything_is_written(case, workdir, capsys):
    columns, fragments = POSTERIORS[case]
    pl.DataFrame(columns, schema={k: pl.Float64 for k in columns}).write_parquet(workdir / "accepted.parquet")
    assert_clean_refusal(["compare", str(BASELINE), *TINY, "--workers", "1", "--posterior", "accepted.parquet"],
                         fragments, workdir, capsys)


@pytest.mark.parametrize("content", [b"", b"not parquet", b"PAR1PAR1"])
def test_posterior_not_parquet(content, workdir, capsys):
    (workdir / "accepted.parquet").write_bytes(content)
    assert_clean_refusal(["compare", str(BASELINE), *TINY, "--workers", "1", "--posterior", "accepted.parquet"],
                         ["accepted.parquet", "not a Parquet file"], workdir, capsys)


# -- property: any damage to any file a command reads is a clean refusal ---------------------------

def _loads(kind: str, path: Path) -> bool:
    """Whether ``path`` is a valid file of its kind (then it is no damage)."""
    from abm.calibration.targets import load_targets
    from abm.config import load_config
    from abm.errors import UserError
    from abm.sweep import load_experiment

    try:
        {"config": load_config, "experiment": load_experiment, "targets": load_targets}[kind](path)
    except UserError:
        return False
    return True


def _whole_file(root: Path, name: str) -> bytes:
    """A valid file of the kind ``name`` is (a Parquet table, a study, a manifest, a TOML file), to truncate."""
    if name.endswith(".parquet"):
        return _valid_parquet(root)
    if name.endswith(".db"):
        other_study(root / ".whole.db")
        data = (root / ".whole.db").read_bytes()
        (root / ".whole.db").unlink()
        return data
    return json.dumps(MANIFEST).encode() if name.endswith(".json") else EXPERIMENT.encode()


def _valid_parquet(root: Path) -> bytes:
    SUMMARY.write_parquet(root / ".valid.parquet")
    data = (root / ".valid.parquet").read_bytes()
    (root / ".valid.parquet").unlink()
    return data


KINDS = {
    # kind: (file written, argv, the fragment the line must name)
    "config": ("c.toml", ["validate", "c.toml"], "c.toml"),
    "experiment": ("e.toml", ["sweep", "e.toml", "--workers", "1"], "e.toml"),
    "targets": ("t.toml", ["check", "t.toml"], "t.toml"),
    "manifest": ("sweep/manifest.json", ["robustness", "sweep"], "manifest.json"),
    "summary": ("sweep/summary.parquet", ["robustness", "sweep"], "summary.parquet"),
    "posterior": ("p.parquet", ["compare", str(BASELINE), *TINY, "--workers", "1", "--posterior", "p.parquet"], "p.parquet"),
    "study": ("out/study.db", [*CALIBRATE, "--resume", "--out", "out"], "study.db"),
}


@st.composite
def damaged(draw):
    """Random bytes, a truncation of a valid file, or another kind's content."""
    choice = draw(st.sampled_from(["random", "truncated", "json", "parquet", "sqlite", "text"]))
    if choice == "random":
        return draw(st.binary(min_size=0, max_size=300))
    if choice == "json":
        return json.dumps(draw(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                                            max_leaves=10))).encode()
    if choice == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    return choice.encode() + b":" + draw(st.binary(max_size=4))  # resolved below, needs the folder


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_file_a_command_reads_is_a_clean_refusal(kind, data, tmp_path_factory, monkeypatch, capsys):
    root = tmp_path_factory.mktemp("damaged")
    monkeypatch.chdir(root)
    (root / "base.toml").write_text(TARGETS_BASE)
    (root / "targets.toml").write_text(f'name = "tiny"\nbase = "base.toml"\nreplications = 1\n{TARGET}')
    sweep_folder(root)
    (root / "out").mkdir()
    name, argv, fragment = KINDS[kind]
    content = data.draw(damaged())
    if content.startswith(b"truncated:"):
        whole = _whole_file(root, name)
        content = whole[:data.draw(st.integers(0, len(whole) - 1))]
    elif content.startswith(b"parquet:"):
        content = _valid_parquet(root)
    elif content.startswith(b"sqlite:"):
        foreign_sqlite(root / ".x.db")
        content = (root / ".x.db").read_bytes()
        (root / ".x.db").unlink()
    if kind == "summary" and content == _valid_parquet(root):
        content = b"x"  # the valid summary itself is no damage
    (root / name).write_bytes(content)
    if name.endswith(".toml"):
        assume(not _loads(kind, root / name))  # a truncation can leave a whole, valid file: no damage
    capsys.readouterr()
    before = tree(root)
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, f"{kind}: exit status {status} with {content[:80]!r}: {err}"
    assert "Traceback" not in err and len(printed_lines(err)) == 1, err
    assert fragment in err
    assert tree(root) == before
