"""Bad input to every command ends in one clear line and changes nothing (issue 15).

Each case runs ``abm.cli.main`` in-process, in an empty working folder, and asserts: a
non-zero exit; no traceback; exactly one line on stderr that names the file or option,
the key and the value, and says what is allowed (the fragments); nothing written or
changed in the folder (no results, no empty output folder).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abm.cli import main
from abm.commands import COMMANDS

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "configs" / "baseline.toml"
HUGE = "municipalities.sizes=[" + ", ".join(["10000000"] * 98) + "]"

# (name of the config file written, its text): run with `abm run bad.toml`.
CONFIG_FILES = {
    "weeks as text": ('[run]\nweeks = "ten"\n', ["bad.toml", "run.weeks", '"ten"', "whole number"]),
    "weeks zero": ("[run]\nweeks = 0\n", ["bad.toml", "run.weeks", "0", ">= 1"]),
    "weeks fractional": ("[run]\nweeks = 10.5\n", ["bad.toml", "run.weeks", "10.5", "whole number"]),
    "weeks too many": ("[run]\nweeks = 100000\n", ["bad.toml", "run.weeks", "100000", "<= 5200"]),
    "seed negative": ("[run]\nseed = -1\n", ["bad.toml", "run.seed", "-1", ">= 0"]),
    "seed too large": ("[run]\nseed = 9223372036854775808\n", ["bad.toml", "run.seed", "9223372036854775808", "<= 9223372036854775807"]),
    "burn-in negative": ("[run]\nburn_in_weeks = -1\n", ["bad.toml", "run.burn_in_weeks", "-1", ">= 0"]),
    "unknown section": ('[councl]\nstrategy = "invest"\n', ["bad.toml", "[councl]", "did you mean 'council'"]),
    "unknown key": ("[council]\ncaseload_tagret = 55.0\n", ["bad.toml", "council.caseload_tagret", "council.caseload_target"]),
    "bad choice": ('[council]\nstrategy = "invset"\n', ["bad.toml", "council.strategy", '"invset"', "'invest'"]),
    "bool for choice": ("[council]\nstrategy = true\n", ["bad.toml", "council.strategy", "true", "one of"]),
    "rate above one": ("[trust]\nsocial_rate = 1.7\n", ["bad.toml", "trust.social_rate", "1.7", "<= 1"]),
    "text for number": ('[trust]\nsocial_rate = "high"\n', ["bad.toml", "trust.social_rate", '"high"', "a number"]),
    "nan": ("[trust]\nsocial_rate = nan\n", ["bad.toml", "trust.social_rate", "NaN", "a number"]),
    "inf": ("[costs]\ncaseworker_cost_per_year = inf\n", ["bad.toml", "costs.caseworker_cost_per_year", "Infinity", "<= 1e+08"]),
    "list with text": ('[labour_market]\ninflow_shares = [0.5, "x"]\n', ["bad.toml", "labour_market.inflow_shares", "'x'", "list of"]),
    "shares too few": ("[population]\nstock_shares = [0.5, 0.5]\n", ["bad.toml", "population.stock_shares", "[0.5, 0.5]", "exactly 3"]),
    "shares not adding up": ("[population]\nstock_shares = [0.5, 0.3, 0.3]\n", ["bad.toml", "population.stock_shares", "1.1", "adding up to 1"]),
    "inflow shares zero": ("[labour_market]\ninflow_shares = [0.0, 0.0, 0.0]\n", ["bad.toml", "labour_market.inflow_shares", "[0.0, 0.0, 0.0]", "adding up to 1"]),
    "health one value": ("[population]\nhealth_mean = [0.5]\n", ["bad.toml", "population.health_mean", "[0.5]", "exactly 3"]),
    "benefits five values": ("[costs]\nbenefit_per_week = [1, 2, 3, 4, 5]\n", ["bad.toml", "costs.benefit_per_week", "[1, 2, 3, 4, 5]", "exactly 3"]),
    "hazard one value": ("[progress]\njob_hazard = [0.1]\n", ["bad.toml", "progress.job_hazard", "[0.1]", "exactly 3"]),
    "hardship empty": ("[protest]\nhardship_base = []\n", ["bad.toml", "protest.hardship_base", "[]", "exactly 3"]),
    "decision shares over one": ("[progress]\ndisability_share = [0.0, 0.7, 0.56]\n",
                                 ["bad.toml", "progress.disability_share", "0.7 + 0.35", "at most 1"]),
    "council ring degree one": ("[network]\ncouncil_degree = 1\n", ["bad.toml", "network.council_degree", "= 1", "12 municipalities", ">= 2"]),
    "mix with unknown strategy": ('[council]\nstrategy_mix = ["invest", "bogus"]\n', ["bad.toml", "council.strategy_mix", "'bogus'", "values from"]),
    "size zero": ("[municipalities]\nsizes = [0, 100]\n", ["bad.toml", "municipalities.sizes", "0", ">= 1"]),
    "scale zero": ("[municipalities]\npopulation_scale = 0\n", ["bad.toml", "municipalities.population_scale", "0", ">= 0.0001"]),
    "count above Denmark": ("[municipalities]\ncount = 99\n", ["bad.toml", "municipalities.count", "99", "<= 98"]),
    "client share too high": ("[population]\nclient_share = 0.9\n", ["bad.toml", "population.client_share", "0.9", "<= 0.5"]),
    "no casework time": ("[casework]\ncasework_share = 0.0\n", ["bad.toml", "casework.casework_share", "0.0", ">= 0.01"]),
    "section not a table": ("council = 3\n", ["bad.toml", "council", "3", "table"]),
    "description not text": ("description = 3\n", ["bad.toml", "description", "3", "string"]),
    "extends missing": ('extends = "missing.toml"\n', ["bad.toml", "extends", "missing.toml", "no such file"]),
    "extends not text": ("extends = 5\n", ["bad.toml", "extends", "5", "file name"]),
    "extends itself": ('extends = "bad.toml"\n', ["bad.toml", "extends", "cycle"]),
    "not toml": ("[council\nstrategy = 1", ["bad.toml", "not valid TOML"]),
}

# (argv, fragments): command-line mistakes, with the shipped configs.
COMMAND_LINES = {
    "run: --set without =": (["run", str(BASELINE), "--set", "council.strategy"], ["--set", "council.strategy", "section.key=value"]),
    "run: --set unknown section": (["run", str(BASELINE), "--set", "nosuch.key=1"], ["--set", "nosuch", "sections:"]),
    "run: --set misspelt key": (["run", str(BASELINE), "--set", "run.wekes=3"], ["--set", "run.wekes", "did you mean 'run.weeks'"]),
    "run: --set negative weeks": (["run", str(BASELINE), "--set", "run.weeks=-3"], ["--set", "run.weeks", "-3", ">= 1"]),
    "run: --set hazard one value": (["run", str(BASELINE), "--set", "progress.job_hazard=[0.1]"],
                                    ["--set", "progress.job_hazard", "[0.1]", "exactly 3"]),
    "run: --set shares two values": (["run", str(BASELINE), "--set", "population.stock_shares=[0.5,0.5]"],
                                     ["--set", "population.stock_shares", "[0.5, 0.5]", "exactly 3"]),
    "run: --set council degree 1": (["run", str(BASELINE), "--set", "network.council_degree=1"],
                                    ["--set", "network.council_degree", "= 1", ">= 2"]),
    "run: --seed negative": (["run", str(BASELINE), "--seed", "-1"], ["--seed", "run.seed", "-1", ">= 0"]),
    "run: --seed too large": (["run", str(BASELINE), "--seed", str(2**70)], ["--seed", "run.seed", str(2**70), "<= 9223372036854775807"]),
    "run: memory": (["run", str(BASELINE), "--set", HUGE, "--set", "municipalities.population_scale=10"],
                    ["baseline.toml", "GiB of memory", "is available", "municipalities.population_scale", "--force"]),
    "run: missing config": (["run", "nope.toml"], ["nope.toml", "no such config file"]),
    "run: folder as config": (["run", str(REPO / "configs")], ["configs", "is a folder", ".toml"]),
    "compare: --set distance one value": (["compare", "--set", "population.distance_mean=[0.2]"],
                                          ["--set", "population.distance_mean", "[0.2]", "exactly 3"]),
    "compare: --set council degree 1": (["compare", "--set", "network.council_degree=1"], ["--set", "network.council_degree", "= 1", ">= 2"]),
    "compare: --seed negative": (["compare", str(BASELINE), "--seed", "-5"], ["--seed", "run.seed", "-5", ">= 0"]),
    "compare: bad strategy list": (["compare", str(BASELINE), "--set", "compare.strategies=['bogus']"],
                                   ["--set", "compare.strategies", "'bogus'", "values from"]),
    "compare: bad baseline": (["compare", str(BASELINE), "--set", "compare.baseline_strategy=nope"],
                              ["--set", "compare.baseline_strategy", '"nope"', "one of"]),
    "compare: replications zero": (["compare", str(BASELINE), "--set", "compare.replications=0"],
                                   ["--set", "compare.replications", "0", ">= 1"]),
    "compare: memory": (["compare", str(BASELINE), "--set", HUGE, "--set", "municipalities.population_scale=10"], ["baseline.toml", "GiB of memory", "is available", "--force"]),
    "validate: no config": (["validate"], ["config file", "abm validate configs/baseline.toml"]),
    "validate: --set flexjob one value": (["validate", str(BASELINE), "--set", "progress.flexjob_share=[0.1]"],
                                          ["--set", "progress.flexjob_share", "[0.1]", "exactly 3"]),
    "validate: --set decision shares": (["validate", str(BASELINE), "--set", "progress.flexjob_share=[0.0, 0.9, 0.25]"],
                                        ["--set", "progress.flexjob_share", "0.25 + 0.9", "at most 1"]),
    "validate: --seed negative": (["validate", str(BASELINE), "--seed", "-1"], ["--seed", "run.seed", "-1", ">= 0"]),
    "viz: port too high": (["viz", "--port", "70000"], ["--port", "70000", "1 to 65535"]),
    "viz: port negative": (["viz", "--port", "-1"], ["--port", "-1", "1 to 65535"]),
    "viz: port zero": (["viz", "--port", "0"], ["--port", "0", "1 to 65535"]),
    "viz: bad --set": (["viz", str(BASELINE), "--set", "costs.benefit_per_week=[1.0]"], ["--set", "costs.benefit_per_week", "[1.0]", "exactly 3"]),
    "viz: --seed negative": (["viz", str(BASELINE), "--seed", "-2"], ["--seed", "run.seed", "-2", ">= 0"]),
}

# Experiment files for `abm sweep bad.toml` (the base is the shipped baseline).
BASE_LINE = f'base = {json.dumps(str(BASELINE))}\n'
GRID = '[design]\nkind = "grid"\n[design.parameters]\n"council.caseload_target" = [40, 60]\n'
EXPERIMENTS = {
    "set list too short": (BASE_LINE + '[set]\n"population.health_mean" = [0.5]\n' + GRID,
                           ["bad.toml", "population.health_mean", "[0.5]", "exactly 3"]),
    "set strategy": (BASE_LINE + '[set]\n"council.strategy" = "invest"\n' + GRID, ["bad.toml", "council.strategy", "strategies = [...]"]),
    "set unknown key": (BASE_LINE + '[set]\n"council.bogus" = 1\n' + GRID, ["bad.toml", "council.bogus", "keys in [council]"]),
    "design kind misspelt": (BASE_LINE + '[design]\nkind = "grdi"\n', ["bad.toml", "design.kind", '"grdi"', "did you mean 'grid'"]),
    "no design": (BASE_LINE, ["bad.toml", "[design]", "kind = one of"]),
    "grid value out of range": (BASE_LINE + '[design]\nkind = "grid"\n[design.parameters]\n"council.caseload_target" = [0, 60]\n',
                                ["bad.toml", "design point 0", "council.caseload_target", "0", ">= 1"]),
    "grid council degree 1": (BASE_LINE + '[design]\nkind = "grid"\n[design.parameters]\n"network.council_degree" = [1, 4]\n',
                              ["bad.toml", "design point 0", "network.council_degree", "= 1", ">= 2"]),
    "sampled council degree rounds to 1": (
        BASE_LINE + '[design]\nkind = "random"\nn = 8\n[design.bounds]\n"network.council_degree" = [1, 2]\n',
        ["bad.toml", "design point", "network.council_degree", "= 1", ">= 2"]),
    "grid list too short": (BASE_LINE + '[design]\nkind = "grid"\n[design.parameters]\n"progress.job_hazard" = [[0.1]]\n',
                            ["bad.toml", "design point 0", "progress.job_hazard", "[0.1]", "exactly 3"]),
    "random too many runs": (BASE_LINE + '[design]\nkind = "random"\nn = 1000000\n[design.bounds]\n"trust.social_rate" = [0, 1]\n',
                             ["bad.toml", "1,000,000 runs", "10,000", "design.n", "--yes"]),
    "grid too many runs": (BASE_LINE + 'replications = 1000\n' + GRID + '"trust.social_rate" = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]\n',
                           ["bad.toml", "12,000 runs", "10,000", "replications", "--yes"]),
    "sobol n not a power of two": (BASE_LINE + '[design]\nkind = "sobol"\nn = 6\n[design.bounds]\n"trust.social_rate" = [0, 1]\n',
                                   ["bad.toml", "design.n", "6", "power of two"]),
    "bounds reversed": (BASE_LINE + '[design]\nkind = "random"\nn = 4\n[design.bounds]\n"trust.social_rate" = [0.9, 0.1]\n',
                        ["bad.toml", "design.bounds.trust.social_rate", "[0.9, 0.1]", "low must be below high"]),
    "bounds outside range": (BASE_LINE + '[design]\nkind = "random"\nn = 4\n[design.bounds]\n"trust.social_rate" = [0.5, 2]\n',
                             ["bad.toml", "design.bounds.trust.social_rate", "2", "<= 1"]),
    "bounds on a list": (BASE_LINE + '[design]\nkind = "random"\nn = 4\n[design.bounds]\n"progress.job_hazard" = [0, 1]\n',
                         ["bad.toml", "design.bounds.progress.job_hazard", "list[float]", "only numeric"]),
    "replications zero": (BASE_LINE + "replications = 0\n" + GRID, ["bad.toml", "replications", "0", ">= 1"]),
    "seed negative": (BASE_LINE + "seed = -1\n" + GRID, ["bad.toml", "seed", "-1", ">= 0"]),
    "unknown strategy": (BASE_LINE + 'strategies = ["bogus"]\n' + GRID, ["bad.toml", "strategies", '"bogus"', "values from"]),
    "base missing": ('base = "nope.toml"\n' + GRID, ["bad.toml", "base", "nope.toml", "no such config file"]),
    "unknown top-level key": (BASE_LINE + "replicatons = 2\n" + GRID, ["bad.toml", "replicatons", "did you mean 'replications'"]),
}


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def assert_clean_refusal(argv: list[str], fragments: list[str], folder: Path, capsys) -> None:
    before = tree(folder)
    status = main(argv)
    err = capsys.readouterr().err
    assert status != 0, f"exit status {status} for {argv}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} missing from: {lines[0]}"
    assert tree(folder) == before, "a file or folder was written or changed"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", CONFIG_FILES)
def test_bad_config_file(case, workdir, capsys):
    text, fragments = CONFIG_FILES[case]
    (workdir / "bad.toml").write_text(text)
    assert_clean_refusal(["run", "bad.toml"], fragments, workdir, capsys)


@pytest.mark.parametrize("case", COMMAND_LINES)
def test_bad_command_line(case, workdir, capsys):
    argv, fragments = COMMAND_LINES[case]
    if argv[0] == "compare" and not any(a.endswith(".toml") for a in argv[1:2]):
        argv = [argv[0], str(REPO / "configs" / "compare.toml"), *argv[1:]]
    assert_clean_refusal(argv, fragments, workdir, capsys)


@pytest.mark.parametrize("case", EXPERIMENTS)
def test_bad_experiment(case, workdir, capsys):
    text, fragments = EXPERIMENTS[case]
    (workdir / "bad.toml").write_text(text)
    assert_clean_refusal(["sweep", "bad.toml", "--workers", "1"], fragments, workdir, capsys)


def test_resume_on_a_manifest_that_is_not_an_object(workdir, capsys):
    (workdir / "experiment.toml").write_text(BASE_LINE + GRID)
    (workdir / "results" / "experiment").mkdir(parents=True)
    (workdir / "results" / "experiment" / "manifest.json").write_text("[]\n")
    assert_clean_refusal(["sweep", "experiment.toml", "--resume", "--workers", "1"],
                         ["--resume", "manifest.json", "not an object"], workdir, capsys)


def test_sweep_into_a_used_folder_without_resume(workdir, capsys):
    (workdir / "experiment.toml").write_text(BASE_LINE + GRID)
    (workdir / "results" / "experiment").mkdir(parents=True)
    (workdir / "results" / "experiment" / "keep.txt").write_text("earlier work\n")
    assert_clean_refusal(["sweep", "experiment.toml", "--workers", "1"],
                         ["results/experiment", "not empty", "--resume", "--out"], workdir, capsys)


def test_sweep_workers_zero(workdir, capsys):
    (workdir / "experiment.toml").write_text(BASE_LINE + GRID)
    assert_clean_refusal(["sweep", "experiment.toml", "--workers", "0"], ["--workers", "0", "from 1 to 4,096"], workdir, capsys)


def test_sweep_missing_experiment(workdir, capsys):
    assert_clean_refusal(["sweep", "nope.toml"], ["nope.toml", "no such experiment file"], workdir, capsys)


def test_there_are_at_least_sixty_cases():
    """Sixty or more different bad inputs (no case a copy of another), reaching every command
    whose input this module tries (run, sweep and each command line's) and, for the others,
    the module that tries theirs: a new command cannot ship without bad input tried."""
    inputs = [text for text, _ in CONFIG_FILES.values()] + [text for text, _ in EXPERIMENTS.values()]
    inputs += [tuple(argv) for argv, _ in COMMAND_LINES.values()]
    assert len(set(inputs)) == len(inputs) >= 60
    tried_elsewhere = {"check": "test_calibration", "calibrate": "test_calibration",
                       "discover": "test_decision", "robustness": "test_decision", "optimise": "test_decision",
                       "brief": "test_brief"}
    tried = {"run", "sweep", *(argv[0] for argv, _ in COMMAND_LINES.values()), *tried_elsewhere}
    assert tried == {command.__name__.rsplit(".", 1)[1] for command in COMMANDS}
