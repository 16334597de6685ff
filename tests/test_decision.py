"""Decision support: uncertainties and levers, identical runs run once, discovery, robustness, policy search.

Sweeps here are tiny (2 municipalities, population_scale 0.02, 52 weeks) and serial
(``workers=1``); one test runs on the real Ray. Where the answer must be known by
construction, the runner (the hook ``run_sweep`` and ``execute`` offer tests) gives an
outcome that is a known function of the parameters; everything else is real: Parquet
stores, the EMA Workbench's PRIM and CART, Optuna's SQLite storage.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from abm.cli import main
from abm.errors import ConfigError
from abm.execution import execute, identical_runs
from abm.simulate import RunResult, run_simulation
from abm.sweep import load_experiment, run_sweep
from abm.sweep.analysis import TABLE_OUTCOMES, analyse
from abm.sweep.optimise import search

REPO = Path(__file__).resolve().parents[1]
TINY = {"run.weeks": 52, "municipalities.count": 2, "municipalities.population_scale": 0.02}


def write_scenarios(folder: Path, *, n: int = 3, levers: str = '"council.caseload_target" = [55, 80]',
                    strategies=("status_quo", "invest"), replications: int = 1, bounds: str | None = None,
                    choices: str | None = None, name: str = "xlrm") -> Path:
    lines = [f'base = "{REPO / "configs" / "baseline.toml"}"', f"strategies = {json.dumps(list(strategies))}",
             f"replications = {replications}", "seed = 5", "[set]"]
    lines += [f'"{key}" = {json.dumps(value)}' for key, value in TINY.items()]
    lines += ["[uncertainties]", f"n = {n}", "[uncertainties.bounds]",
              bounds or '"council.initial_caseload" = [60, 140]', *(["[uncertainties.choices]", choices] if choices else []),
              "[levers]", levers]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def known_runner():
    """A runner whose outcomes are known by construction: trust is 0.9 exactly where the starting
    caseload is above 100, else 0.2; invest costs (target - 70)^2, status quo 500. Made here, so
    that Ray ships it to its workers by value (they cannot import this test file)."""

    def run(config, seed) -> RunResult:
        trust = 0.9 if config.council.initial_caseload > 100 else 0.2
        cost = (config.council.caseload_target - 70.0) ** 2 if config.council.strategy == "invest" else 500.0
        summary = dict.fromkeys(TABLE_OUTCOMES, 0.0) | {"trust_mean": trust, "net_cost_mdkk": cost}
        return RunResult(pl.DataFrame({"week": [0]}), summary, seed)

    return run


# -- uncertainties and levers ----------------------------------------------------------


def test_scenarios_cross_every_sampled_scenario_with_every_lever_setting(tmp_path):
    experiment = load_experiment(write_scenarios(tmp_path, n=4, replications=2))
    assert experiment.kind == "scenarios" and experiment.uncertainties == ("council.initial_caseload",)
    assert experiment.levers == ("council.caseload_target",) and len(experiment.points) == 4 * 2
    caseloads = sorted({p["council.initial_caseload"] for p in experiment.points})
    assert len(caseloads) == 4 and 60 <= caseloads[0] and caseloads[-1] <= 140
    # Latin hypercube: one sample in each quarter of the range
    assert sorted(int((c - 60) // 20) for c in caseloads) == [0, 1, 2, 3]
    assert load_experiment(write_scenarios(tmp_path, n=4, replications=2)).points == experiment.points  # seeded


def test_status_quo_at_every_caseload_target_is_one_run(tmp_path):
    tasks = load_experiment(write_scenarios(tmp_path, n=2, levers='"council.caseload_target" = [55, 80, 110]')).tasks()
    groups = identical_runs(tasks)
    assert len(tasks) == 2 * 3 * 2 and len(groups) == 2 * 3 + 2  # invest at each target, status quo once per scenario
    for group in groups.values():
        assert len({t.labels["strategy"] for t in group}) == 1
        assert len(group) == (3 if group[0].labels["strategy"] == "status_quo" else 1)


def test_deduplicated_runs_give_the_results_of_running_them(tmp_path):
    tasks = load_experiment(write_scenarios(tmp_path, n=1)).tasks()
    assert len(identical_runs(tasks)) < len(tasks)
    reused = {task.run_id: result.summary for task, result, _ in execute(tasks, workers=1)}
    for task in tasks:
        if task.labels["strategy"] == "status_quo":
            assert reused[task.run_id] == run_simulation(task.config, task.seed).summary


@pytest.mark.parametrize("extra, message", [
    ('"council.initial_caseload" = [70, 90]', "is also an uncertainty"),
    ('"council.caseload_target" = 55', "expected a non-empty list"),
])
def test_bad_levers_fail_with_one_line(tmp_path, extra, message):
    path = write_scenarios(tmp_path, levers=extra)
    with pytest.raises(ConfigError, match=message):
        load_experiment(path)


def test_design_and_uncertainties_together_are_refused(tmp_path):
    path = write_scenarios(tmp_path)
    path.write_text(path.read_text() + '[design]\nkind = "grid"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="keep one"):
        load_experiment(path)


# -- discovery and robustness ----------------------------------------------------------


@pytest.fixture(scope="module")
def known_sweep(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("known")
    bounds = '"council.initial_caseload" = [60, 140]\n"turnover.recruitment_weeks" = [4, 20]'
    experiment = load_experiment(write_scenarios(folder, n=120, bounds=bounds, levers='"council.caseload_target" = [55]',
                                                 strategies=("status_quo",)))
    run_sweep(experiment, folder / "results", workers=1, runner=known_runner())
    return folder / "results"


@pytest.mark.xdist_group("known_sweep")  # a module fixture: made once, on one worker, under pytest-xdist
@pytest.mark.slow
def test_prim_recovers_the_box_known_by_construction(known_sweep, capsys):
    before = {p: p.stat().st_mtime_ns for p in known_sweep.rglob("*") if p.is_file()}
    assert main(["discover", str(known_sweep), "--when", "trust_mean > 0.5", "--out", str(known_sweep / "d")]) == 0
    box = pl.read_parquet(known_sweep / "d" / "prim_box.parquet")
    assert box["factor"].to_list() == ["council.initial_caseload"]
    low, high = (float(v) for v in box["box"][0].split(" .. "))
    assert 97 <= low <= 103 and high > 138
    trajectory = pl.read_parquet(known_sweep / "d" / "prim_trajectory.parquet")
    assert trajectory["density"].max() == 1.0
    assert "coverage 1.00" in capsys.readouterr().out
    leaves = pl.read_parquet(known_sweep / "d" / "cart_boxes.parquet").sort("density", descending=True)
    assert leaves["density"][0] == 1.0 and leaves["coverage"][0] == 1.0
    assert leaves["limits"][0].startswith("100") and "council.initial_caseload" in leaves["limits"][0]
    assert leaves["mass"].sum() == pytest.approx(1.0)  # CART's leaves partition the runs
    assert all((known_sweep / "d" / name).is_file() for name in ("prim_box.png", "prim_tradeoff.png", "cart_boxes.parquet", "discovery.html"))
    assert {p: p.stat().st_mtime_ns for p in before} == before  # the sweep's own files untouched
    # The same sweep gives the same CART leaves (ties between splits broken reproducibly).
    assert main(["discover", str(known_sweep), "--when", "trust_mean > 0.5", "--out", str(known_sweep / "again")]) == 0
    assert pl.read_parquet(known_sweep / "again" / "cart_boxes.parquet").equals(pl.read_parquet(known_sweep / "d" / "cart_boxes.parquet"))


@pytest.mark.xdist_group("known_sweep")  # a module fixture: made once, on one worker, under pytest-xdist
@pytest.mark.parametrize("when, message", [
    ("trust_mean > 0.5 and nonsense < 1", "unknown outcome 'nonsense'"),
    ("invest.trust_mean > 0.5", "unknown strategy 'invest'"),
    ("__import__('os')", "is not allowed"),
    ("trust_mean >", "not an expression"),
])
def test_bad_conditions_fail_with_one_line(known_sweep, capsys, when, message):
    assert main(["discover", str(known_sweep), "--when", when, "--out", str(known_sweep / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (known_sweep / "bad").exists()


def test_discovery_needs_a_finished_sweep(tmp_path, capsys):
    assert main(["discover", str(tmp_path), "--when", "trust_mean > 0.5"]) == 2
    assert "not a finished sweep results folder" in capsys.readouterr().err


def test_robustness_gives_regret_against_the_best_policy(tmp_path):
    experiment = load_experiment(write_scenarios(tmp_path, n=3, levers='"council.caseload_target" = [60, 70, 90]'))
    run_sweep(experiment, tmp_path / "r", workers=1, runner=known_runner())
    assert main(["robustness", str(tmp_path / "r"), "--outcomes", "net_cost_mdkk:min"]) == 0
    table = pl.read_parquet(tmp_path / "r" / "robustness" / "robustness.parquet")
    regret = dict(zip(table["policy"], table["regret_max"]))
    # cost (target - 70)^2 for invest, 500 for status quo (run once, whatever the target)
    assert regret == {"invest caseload_target=70": 0.0, "invest caseload_target=60": 100.0,
                      "invest caseload_target=90": 400.0, "status_quo": 500.0}


# -- policy search ---------------------------------------------------------------------


@pytest.mark.slow
def test_nsga2_finds_the_known_optimum_of_a_small_problem(tmp_path):
    """Minimise (x - 0.3)^2 and maximise -(y - 2)^2 (no trade-off: one optimum at x=0.3, y=2)."""
    space = {"x": ("float", 0.0, 1.0), "y": ("int", 0, 6)}

    def evaluate(candidates):
        return [[(c["x"] - 0.3) ** 2, -((c["y"] - 2) ** 2)] for c in candidates]

    study = search(space, evaluate, [("f", "min"), ("g", "max")], generations=15, population=12, seed=1,
                   storage=f"sqlite:///{tmp_path / 'study.db'}")
    best = min(study.best_trials, key=lambda t: t.values[0])
    assert abs(best.params["x"] - 0.3) < 0.05 and best.params["y"] == 2
    assert (tmp_path / "study.db").is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts Ray: one at a time under pytest-xdist
def test_optimise_on_ray_finds_the_best_caseload_target(tmp_path, capsys):
    path = write_scenarios(tmp_path, n=2, levers='"council.caseload_target" = [40, 120]', strategies=("invest",))
    from abm.sweep.optimise import optimise

    text, out = optimise(load_experiment(path), [("net_cost_mdkk", "min")], [], generations=4, population=6,
                         out=tmp_path / "opt", workers=2, runner=known_runner())
    front = pl.read_parquet(out / "pareto.parquet")
    assert abs(front["council.caseload_target"][0] - 70) < 8
    assert (out / "pareto.png").is_file() and (out / "study.db").is_file()


def by_size_runner():
    """Invest costs max(target - 40, 0)^2 where municipalities are small (under 20,000: any target up to
    40 is best), (target - 100)^2 where large; trust is 0.9 up to a target of 90, else 0.2."""

    def run(config, seed) -> RunResult:
        target = config.council.caseload_target
        cost = max(target - 40.0, 0.0) ** 2 if config.municipalities.sizes[0] < 20_000 else (target - 100.0) ** 2
        summary = dict.fromkeys(TABLE_OUTCOMES, 0.0) | {"net_cost_mdkk": cost, "trust_mean": 0.9 if target <= 90 else 0.2}
        return RunResult(pl.DataFrame({"week": [0]}), summary, seed)

    return run


SIZES = '"municipalities.sizes" = [[10000, 10000], [150000, 150000], [10000, 150000]]'


@pytest.mark.parametrize("constraint", [[], [("trust_mean", ">=", 0.5)]])
def test_best_policy_per_size_class_is_the_best_candidate_on_that_class_runs(tmp_path, constraint):
    """Known by construction: small municipalities do best with any target up to 40 (the first such
    candidate is shown, and the range of them); large ones with the candidate nearest 100 (with
    trust >= 0.5: nearest 100 from at most 90); all scenarios together (4 small, 2 large), nearest 60."""
    import optuna
    from abm.sweep.optimise import optimise

    path = write_scenarios(tmp_path, n=6, levers='"council.caseload_target" = [20, 140]', strategies=("invest",),
                           choices=SIZES)
    text, out = optimise(load_experiment(path), [("net_cost_mdkk", "min"), ("trust_mean", "max")], constraint,
                         generations=3, population=8, out=tmp_path / "opt", workers=1, runner=by_size_runner())
    table = pl.read_parquet(out / "size_classes.parquet")
    assert table["size_class"].to_list() == ["under 20,000", "100,000 and over"]
    assert table["scenarios"].to_list() == [2, 2]  # the two mixed scenarios count in no class
    assert "2 of 6 scenarios have municipalities of several classes" in text
    trials = optuna.load_study(study_name="policy_search", storage=f"sqlite:///{out / 'study.db'}").trials
    target = {t.number: t.params["council.caseload_target"] for t in trials}
    feasible = [n for n in target if target[n] <= (90 if constraint else 140)]
    everywhere = target[min(feasible, key=lambda n: (trials[n].values[0], n))]  # mean over all 6 scenarios

    small = table.row(0, named=True)
    plateau = sorted(n for n in target if target[n] <= 40)
    assert len(plateau) > 1 and small["trial"] == plateau[0] and small["net_cost_mdkk"] == 0
    assert small["same_outcome"] == f"{min(target[n] for n in plateau):.4g} to {max(target[n] for n in plateau):.4g}"
    assert small["vs_all_sizes"] == pytest.approx(-max(everywhere - 40, 0) ** 2)

    large = table.row(1, named=True)
    nearest = target[min(feasible, key=lambda n: abs(target[n] - 100))]
    assert large["council.caseload_target"] == pytest.approx(nearest) and large["same_outcome"] == f"{nearest:.4g}"
    assert large["net_cost_mdkk"] == pytest.approx((nearest - 100) ** 2)
    assert large["net_cost_mdkk_ci95"] == pytest.approx(0.0)  # the same cost in each of the class's scenarios
    assert large["vs_all_sizes"] == pytest.approx((nearest - 100) ** 2 - (everywhere - 100) ** 2)
    assert (out / "size_classes.png").is_file() and "Best policy per size class" in (out / "size_classes.txt").read_text()
    runs = pl.read_parquet(out / "candidate_runs.parquet")
    assert runs.height == len(trials) * 6 and runs["size_class"].null_count() == len(trials) * 2


def test_a_size_class_where_no_candidate_meets_the_constraints_says_so(tmp_path):
    """Status quo (which reads no target) and invest searched together; trust never reaches 0.95."""
    from abm.sweep.optimise import optimise

    path = write_scenarios(tmp_path, n=4, levers='"council.caseload_target" = [20, 140]', choices=SIZES)
    text, out = optimise(load_experiment(path), [("net_cost_mdkk", "min")], [("trust_mean", ">=", 0.95)],
                         generations=1, population=4, out=tmp_path / "opt", workers=1, runner=by_size_runner())
    table = pl.read_parquet(out / "size_classes.parquet")
    assert table["policy"].to_list() == ["none meets the constraints"] * 2
    assert "among candidates meeting trust_mean >= 0.95 there" in text and "vs_all_sizes" not in text
    assert (out / "size_classes.png").is_file()


def test_a_class_pick_that_reads_no_target_leaves_the_target_range_empty(tmp_path):
    """Status quo (500) beats invest ((target - 70)^2, at least 2500 at targets 120 to 140) in every class."""
    from abm.sweep.optimise import optimise

    path = write_scenarios(tmp_path, n=4, levers='"council.caseload_target" = [120, 140]', choices=SIZES)
    text, out = optimise(load_experiment(path), [("net_cost_mdkk", "min")], [], generations=1, population=4,
                         out=tmp_path / "opt", workers=1, runner=known_runner())
    table = pl.read_parquet(out / "size_classes.parquet")
    assert table["strategy"].to_list() == ["status_quo"] * 2
    assert "same_outcome" not in table.columns or table["same_outcome"].null_count() == 2
    assert (out / "size_classes.png").is_file()


@pytest.mark.parametrize("choices, message", [
    (None, "every run has municipalities of several classes"),  # count = 2: Denmark's smallest and largest
    ('"municipalities.sizes" = [[30000, 30000], [45000, 45000]]', "all in one class (20,000-50,000)"),
])
def test_no_size_variation_says_so_in_one_line(tmp_path, capsys, choices, message):
    path = write_scenarios(tmp_path, n=2, levers='"council.caseload_target" = [40, 120]', strategies=("invest",),
                           choices=choices)
    assert main(["optimise", str(path), "--objectives", "net_cost_mdkk:min", "--generations", "1", "--population", "2",
                 "--out", str(tmp_path / "o"), "--workers", "1"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "per size class" in line]
    assert len(lines) == 1 and "not computed: the experiment has no variation in municipality size" in lines[0]
    assert message in lines[0]
    assert not (tmp_path / "o" / "size_classes.parquet").exists()


@pytest.mark.parametrize("argv, message", [
    (["--objectives", "happiness:max"], "'happiness' is not an outcome"),
    (["--objectives", "net_cost_mdkk:min", "--size-classes", "50000", "20000"], "--size-classes 50000 20000: expected increasing"),
    (["--objectives", "net_cost_mdkk:min", "--size-classes", "0"], "--size-classes 0: expected increasing"),
    (["--objectives", "net_cost_mdkk"], "expected OUTCOME:min or OUTCOME:max"),
    (["--objectives", "net_cost_mdkk:min", "--constraint", "protests < 1"], "expected OUTCOME <= VALUE"),
])
def test_bad_objectives_fail_with_one_line(tmp_path, capsys, argv, message):
    path = write_scenarios(tmp_path)
    assert main(["optimise", str(path), *argv, "--out", str(tmp_path / "o"), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_discovery_on_a_sweep_missing_runs_of_a_strategy_fails_with_one_line(tmp_path, capsys):
    run = known_runner()

    def invest_fails_once(config, seed):
        if config.council.strategy == "invest" and config.council.caseload_target == 80:
            raise ValueError("injected failure")
        return run(config, seed)

    experiment = load_experiment(write_scenarios(tmp_path, n=2))
    run_sweep(experiment, tmp_path / "r", workers=1, runner=invest_fails_once)
    capsys.readouterr()  # the sweep's progress bar
    assert main(["discover", str(tmp_path / "r"), "--when", "invest.net_cost_mdkk < status_quo.net_cost_mdkk"]) == 2
    err = capsys.readouterr().err.strip()
    assert "lack a finished run of 'invest'" in err and "--resume" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r" / "discovery").exists()
    assert main(["robustness", str(tmp_path / "r"), "--outcomes", "happiness:max"]) == 2
    assert "--outcomes happiness: not an outcome" in capsys.readouterr().err


def test_morris_screening_finds_the_only_uncertainty_that_matters(tmp_path):
    bounds = '"council.initial_caseload" = [60, 140]\n"turnover.recruitment_weeks" = [4, 20]'
    path = write_scenarios(tmp_path, n=6, bounds=bounds, levers='"council.caseload_target" = [55]', strategies=("invest",))
    path.write_text(path.read_text().replace("n = 6", 'sampler = "morris"\nn = 6'), encoding="utf-8")
    experiment = load_experiment(path)
    assert len(experiment.points) == 6 * 3  # n trajectories of (uncertainties + 1) scenarios
    store, summary, _ = run_sweep(experiment, tmp_path / "m", workers=1, runner=known_runner())
    analyse(experiment, summary, store.folder)
    effects = pl.read_parquet(tmp_path / "m" / "morris.parquet").filter(pl.col("outcome") == "trust_mean")
    mu_star = dict(zip(effects["uncertainty"], effects["mu_star"]))
    assert mu_star["council.initial_caseload"] > 0.1 and mu_star["turnover.recruitment_weeks"] == 0.0


@pytest.mark.xdist_group("known_sweep")  # a module fixture: made once, on one worker, under pytest-xdist
def test_a_discovery_at_another_density_gets_its_own_folder(known_sweep):
    """Asking again with another --density must not collide with the first answer's folder."""
    answers = known_sweep / "discovery"

    def ask(density: str) -> set[Path]:
        """The folders under RESULTS/discovery after asking at this density."""
        assert main(["discover", str(known_sweep), "--when", "trust_mean > 0.6", "--density", density]) == 0
        return set(answers.iterdir())

    before = set(answers.iterdir()) if answers.exists() else set()
    (first,) = ask("0.8") - before
    first_files = {path: path.read_bytes() for path in first.rglob("*") if path.is_file()}
    (second,) = ask("0.5") - before - {first}
    for folder in (first, second):
        assert all((folder / name).is_file() for name in ("prim_box.parquet", "prim_trajectory.parquet", "discovery.html"))
    assert {path: path.read_bytes() for path in first.rglob("*") if path.is_file()} == first_files  # untouched by the second
