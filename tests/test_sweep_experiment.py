"""Experiment files: designs, seeds, identity, and every bad input caught before a run.

No Ray here: these tests are fast. ``write_experiment`` is shared with the other sweep tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from abm.cli import main
from abm.errors import ConfigError
from abm.sweep import load_experiment, run_sweep
from abm.execution import MAX_BATCH, batches

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "configs" / "baseline.toml"
TINY = {"run.weeks": 26, "municipalities.count": 3, "municipalities.population_scale": 0.02}
GRID = """
[design]
kind = "grid"
[design.parameters]
"council.caseload_target" = [40, 160]
"""


def write_experiment(folder: Path, design: str = GRID, *, name: str = "tiny", strategies=("status_quo", "invest"),
                     replications: int = 2, seed: int = 11, overrides: dict | None = None, top: str = "") -> Path:
    """A small experiment file on the real baseline config (JSON values are valid TOML)."""
    lines = [f'base = "{BASE}"', f"strategies = {json.dumps(list(strategies))}", f"replications = {replications}",
             f"seed = {seed}", top, "[set]"]
    lines += [f'"{key}" = {json.dumps(value)}' for key, value in (overrides or TINY).items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n" + design, encoding="utf-8")
    return path


def test_grid_makes_every_combination_with_common_random_numbers(tmp_path):
    design = GRID + '"turnover.recruitment_weeks" = [4, 8, 12]\n'
    experiment = load_experiment(write_experiment(tmp_path, design, replications=3))
    tasks = experiment.tasks()
    assert len(experiment.points) == 6 and len(tasks) == 6 * 3 * 2
    assert len({t.run_id for t in tasks}) == len(tasks)
    assert experiment.points[1] == {"council.caseload_target": 40.0, "turnover.recruitment_weeks": 8}
    for task in tasks:
        assert task.config.council.strategy == task.labels["strategy"]
        for name, value in task.parameters.items():
            assert task.config.get(name) == value
        assert task.config.run.weeks == 26
    seeds = {(t.labels["replication"]): set() for t in tasks}
    for task in tasks:
        seeds[task.labels["replication"]].add(task.seed)
    assert all(len(s) == 1 for s in seeds.values())  # one seed per replication, across points and strategies
    assert len({next(iter(s)) for s in seeds.values()}) == 3


def test_list_design_takes_explicit_points(tmp_path):
    design = """
[design]
kind = "list"
[[design.points]]
council.caseload_target = 50
turnover.quit_stress = 1.0
[[design.points]]
council.caseload_target = 120
turnover.quit_stress = 3.0
"""
    experiment = load_experiment(write_experiment(tmp_path, design, strategies=["invest"], replications=1))
    assert experiment.points == ({"council.caseload_target": 50.0, "turnover.quit_stress": 1.0},
                                 {"council.caseload_target": 120.0, "turnover.quit_stress": 3.0})


def test_random_design_stays_in_bounds_rounds_whole_numbers_and_follows_the_seed(tmp_path):
    design = """
[design]
kind = "random"
n = 40
[design.bounds]
"trust.social_rate" = [0.01, 0.2]
"turnover.recruitment_weeks" = [2, 20]
"""
    experiment = load_experiment(write_experiment(tmp_path, design))
    assert len(experiment.points) == 40
    rates = [p["trust.social_rate"] for p in experiment.points]
    weeks = [p["turnover.recruitment_weeks"] for p in experiment.points]
    assert all(0.01 <= r <= 0.2 for r in rates) and len(set(rates)) == 40
    assert all(isinstance(w, int) and 2 <= w <= 20 for w in weeks)
    again = load_experiment(write_experiment(tmp_path, design))
    other = load_experiment(write_experiment(tmp_path, design, seed=12, name="other"))
    assert again.points == experiment.points and other.points != experiment.points


def test_sobol_design_has_saltelli_size(tmp_path):
    design = """
[design]
kind = "sobol"
n = 16
[design.bounds]
"progress.quality_elasticity" = [0.5, 3.0]
"trust.social_rate" = [0.01, 0.2]
"protest.network_weight" = [0.0, 1.0]
"""
    experiment = load_experiment(write_experiment(tmp_path, design, strategies=["status_quo"], replications=1))
    assert len(experiment.points) == 16 * (3 + 2)
    assert all(0.5 <= p["progress.quality_elasticity"] <= 3.0 for p in experiment.points)
    assert experiment.salib_problem()["names"] == list(experiment.parameters)


def test_identity_follows_the_runs_not_the_wording(tmp_path):
    first = load_experiment(write_experiment(tmp_path, top='description = "one"'))
    reworded = load_experiment(write_experiment(tmp_path, top='description = "two"', name="b"))
    more = load_experiment(write_experiment(tmp_path, replications=3, name="c"))
    longer = load_experiment(write_experiment(tmp_path, overrides={**TINY, "run.weeks": 30}, name="d"))
    assert first.identity() == reworded.identity()
    assert len({first.identity(), more.identity(), longer.identity()}) == 3


@pytest.mark.parametrize("design, top, message", [
    (GRID.replace("caseload_target", "caseload_targt"), "", "did you mean 'council.caseload_target'"),
    (GRID.replace("council.", "councel."), "", "unknown section 'councel'"),
    ('[design]\nkind = "grid"\n[design.parameters]\n', "", "design.parameters is empty"),
    (GRID.replace("[40, 160]", "[]"), "", "non-empty list"),
    ('[design]\nkind = "list"\n', "", "design.points"),
    ("", "", "no [design]"),
    ('[design]\nkind = "sobel"\n', "", "did you mean 'sobol'"),
    ('[design]\nkind = "sobol"\nn = 8\n[design.bounds]\n"council.caseload_target" = [220, 40]\n', "", "low must be below high"),
    ('[design]\nkind = "sobol"\nn = 10\n[design.bounds]\n"council.caseload_target" = [40, 220]\n', "", "power of two"),
    ('[design]\nkind = "random"\nn = 4\n[design.bounds]\n"council.caseload_target" = [0, 220]\n', "", "out of range"),
    ('[design]\nkind = "random"\nn = 4\n[design.bounds]\n"labour_market.scenario" = [0, 1]\n', "", "only numeric"),
    ('[design]\nkind = "random"\n[design.bounds]\n"trust.social_rate" = [0, 1]\n', "", "design.n"),
    (GRID.replace("[40, 160]", "[40, 2000]"), "", "design point 1: council.caseload_target = 2000"),
    (GRID, "replicatons = 2", "did you mean 'replications'"),
    ('[design]\nkind = "grid"\n[design.parameters]\n"council.strategy" = ["invest"]\n', "", "strategies = [...]"),
    ('[design]\nkind = "list"\n[[design.points]]\n"trust.social_rate" = 0.1\n[[design.points]]\n"trust.change_shock" = 0.1\n',
     "", "every point must set the same parameters"),
])
def test_bad_experiments_fail_with_file_key_and_what_is_allowed(tmp_path, design, top, message):
    path = write_experiment(tmp_path, design, top=top)
    with pytest.raises(ConfigError) as error:
        load_experiment(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_bad_strategies_and_base(tmp_path):
    with pytest.raises(ConfigError, match="strategies"):
        load_experiment(write_experiment(tmp_path, strategies=["invest", "spend_more"]))
    path = tmp_path / "nobase.toml"
    path.write_text('base = "missing.toml"\n' + GRID, encoding="utf-8")
    with pytest.raises(ConfigError, match="no such config file"):
        load_experiment(path)


def test_shipped_experiments_load_and_stay_small():
    runs = {}
    for path in sorted((REPO / "experiments").glob("*.toml")):
        experiment = load_experiment(path)
        runs[path.stem] = len(experiment.tasks())
        assert experiment.base.run.weeks <= 260
    assert {"caseload_sweep", "strategy_by_size", "sobol_behaviour"} <= set(runs)
    assert load_experiment(REPO / "experiments" / "caseload_sweep.toml").points[0] == {"council.caseload_target": 40.0}
    assert all(count <= 600 for count in runs.values())


def test_command_line_refuses_bad_folders_and_addresses_before_any_run(tmp_path, capsys):
    experiment = write_experiment(tmp_path, replications=1)
    out = tmp_path / "out"
    assert main(["sweep", str(experiment), "--address", "127.0.0.1:1", "--out", str(out)]) == 2
    assert "cannot reach a Ray head" in capsys.readouterr().err and not out.exists()
    assert main(["sweep", str(experiment), "--address", "nonsense", "--out", str(out)]) == 2
    assert "HOST:PORT" in capsys.readouterr().err

    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    assert main(["sweep", str(experiment), "--workers", "1", "--out", str(used)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["sweep", str(experiment), "--workers", "1", "--out", str(used), "--resume"]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert [p.name for p in used.iterdir()] == ["notes.txt"]


def test_resume_refuses_a_folder_of_another_experiment(tmp_path, capsys):
    first = write_experiment(tmp_path, replications=1, strategies=["invest"])
    out = tmp_path / "out"
    store, summary, failures = run_sweep(load_experiment(first), out, workers=1)
    assert summary.height == 2 and failures.height == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    other = write_experiment(tmp_path, replications=1, strategies=["invest"], seed=99, name="other")
    assert main(["sweep", str(other), "--workers", "1", "--out", str(out), "--resume"]) == 2
    assert "different set of runs" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    # the same experiment resumes: nothing is missing, so nothing runs and the dataset stays whole
    assert main(["sweep", str(first), "--workers", "1", "--out", str(out), "--resume"]) == 0
    assert pl.read_parquet(out / "summary.parquet").equals(summary)


@pytest.mark.parametrize("runs, cpus", [(1, 2), (64, 2), (1000, 2), (5000, 64)])
def test_ray_batches_keep_the_order_and_shrink_to_single_runs(runs, cpus):
    sizes = [len(batch) for batch in batches(list(range(runs)), cpus)]
    assert [run for batch in batches(list(range(runs)), cpus) for run in batch] == list(range(runs))
    assert sizes == sorted(sizes, reverse=True) and max(sizes) <= MAX_BATCH
    assert sizes[-cpus:] == [1] * min(cpus, runs)  # the last CPUs to finish wait for one run at most
