"""``abm discover`` on every kind of sweep the project makes: one varied parameter or several,
a list, random and Sobol samples, uncertainties with levers; one strategy or many. Where PRIM
or CART has nothing to say, the report says so instead of failing.

The runner gives outcomes that are a known function of the parameters (as in
tests/test_decision.py), so each sweep takes well under a second; one test runs the real
model on a shrunk copy of experiments/caseload_sweep.toml, where the EMA Workbench's CART
reading failed with an IndexError (one varied parameter).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from abm.cli import main
from abm.simulate import RunResult
from abm.sweep import load_experiment, run_sweep
from abm.sweep.analysis import TABLE_OUTCOMES

REPO = Path(__file__).resolve().parents[1]
TINY = {"run.weeks": 26, "run.burn_in_weeks": 4, "municipalities.count": 2, "municipalities.population_scale": 0.05}
PAYS_BACK = "invest.net_cost_mdkk < status_quo.net_cost_mdkk"


def known_runner():
    """Invest costs (target - 70)^2, status quo 500: invest pays back for targets within ~22 of 70.
    Trust is 0.9 where the starting caseload is above 100, else 0.2."""

    def run(config, seed) -> RunResult:
        council = config.council
        cost = (council.caseload_target - 70.0) ** 2 if council.strategy == "invest" else 500.0
        trust = 0.9 if council.initial_caseload > 100 else 0.2
        summary = dict.fromkeys(TABLE_OUTCOMES, 0.0) | {"trust_mean": trust, "net_cost_mdkk": cost}
        return RunResult(pl.DataFrame({"week": [0]}), summary, seed)

    return run


def experiment_file(folder: Path, design: str, strategies=("status_quo", "invest"), replications: int = 1,
                    settings: dict = TINY) -> Path:
    lines = [f'base = "{REPO / "configs" / "baseline.toml"}"', f"strategies = {json.dumps(list(strategies))}",
             f"replications = {replications}", "seed = 11", "[set]",
             *(f'"{key}" = {json.dumps(value)}' for key, value in settings.items()), design]
    path = folder / "experiment.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DESIGNS = {
    "one parameter": '[design]\nkind = "grid"\n[design.parameters]\n"council.caseload_target" = [40, 60, 80, 100, 130, 160]',
    "two parameters": ('[design]\nkind = "grid"\n[design.parameters]\n"council.caseload_target" = [40, 60, 80, 130]\n'
                       '"council.initial_caseload" = [80, 120]'),
    "list": ('[design]\nkind = "list"\n' + "".join(f'[[design.points]]\n"council.caseload_target" = {t}\n'
                                                   f'"labour_market.scenario" = "{s}"\n'
                                                   for t in (40, 65, 75, 150) for s in ("baseline", "boom"))),
    "random": ('[design]\nkind = "random"\nn = 24\n[design.bounds]\n"council.caseload_target" = [30, 200]\n'
               '"turnover.quit_stress" = [0.5, 4.0]'),
    "sobol": '[design]\nkind = "sobol"\nn = 8\n[design.bounds]\n"council.caseload_target" = [30, 200]\n"turnover.quit_stress" = [0.5, 4.0]',
    "uncertainties and levers": ('[uncertainties]\nn = 6\n[uncertainties.bounds]\n"council.initial_caseload" = [60, 140]\n'
                                 '[uncertainties.choices]\n"labour_market.scenario" = ["baseline", "recession"]\n'
                                 '[levers]\n"council.caseload_target" = [50, 70, 150]'),
}


@pytest.mark.parametrize("kind", list(DESIGNS))
def test_discovery_finds_where_invest_pays_back_on_every_kind_of_sweep(tmp_path, kind, capsys):
    experiment = load_experiment(experiment_file(tmp_path, DESIGNS[kind], replications=2 if kind == "one parameter" else 1))
    run_sweep(experiment, tmp_path / "r", workers=1, runner=known_runner())
    assert main(["discover", str(tmp_path / "r"), "--when", PAYS_BACK, "--out", str(tmp_path / "d")]) == 0
    leaves = pl.read_parquet(tmp_path / "d" / "cart_boxes.parquet").sort("density", descending=True)
    assert leaves["mass"].sum() == pytest.approx(1.0)  # the leaves partition the runs
    # by construction, invest pays back exactly for targets in (47.6, 92.4): the densest leaf is inside that
    assert leaves["density"][0] == 1.0 and "council.caseload_target" in leaves["limits"][0]
    low, high = (float(v) for v in leaves["limits"][0].split(" <= ")[::2][:2])
    assert 40 <= low < 70 < high <= 130
    box = pl.read_parquet(tmp_path / "d" / "prim_box.parquet")
    assert "council.caseload_target" in box["factor"].to_list()
    html = (tmp_path / "d" / "discovery.html").read_text()
    assert "PRIM box" in html and "CART" in html and 'src="prim_tradeoff.png"' in html
    assert (tmp_path / "d" / "prim_tradeoff.png").is_file()


def test_one_strategy_condition_on_a_sampled_sweep(tmp_path):
    design = '[uncertainties]\nn = 12\n[uncertainties.bounds]\n"council.initial_caseload" = [60, 140]\n[levers]\n"council.caseload_target" = [55]'
    run_sweep(load_experiment(experiment_file(tmp_path, design, strategies=("responsive",))), tmp_path / "r", workers=1,
              runner=known_runner())
    assert main(["discover", str(tmp_path / "r"), "--when", "trust_mean > 0.5", "--out", str(tmp_path / "d")]) == 0
    limits = pl.read_parquet(tmp_path / "d" / "cart_boxes.parquet").sort("density", descending=True)["limits"][0]
    low, name, high = limits.split(" <= ")
    assert name == "council.initial_caseload" and 90 < float(low) < 110 and float(high) > 110  # trust is high above 100


def test_nothing_to_find_is_said_in_the_report(tmp_path, capsys):
    """A condition that holds everywhere, and one that no factor explains: a report that says so, exit 0."""
    design = '[design]\nkind = "grid"\n[design.parameters]\n"turnover.quit_stress" = [1.0, 2.0]'
    run_sweep(load_experiment(experiment_file(tmp_path, design, replications=2)), tmp_path / "r", workers=1,
              runner=known_runner())
    assert main(["discover", str(tmp_path / "r"), "--when", "status_quo.net_cost_mdkk > 0", "--out", str(tmp_path / "all")]) == 0
    assert "holds everywhere in this sweep" in (tmp_path / "all" / "discovery.html").read_text()
    assert not (tmp_path / "all" / "cart_boxes.parquet").exists()

    def by_seed(config, seed) -> RunResult:  # depends on the replication only, never on quit_stress
        summary = dict.fromkeys(TABLE_OUTCOMES, 0.0) | {"net_cost_mdkk": float(seed % 1000)}
        return RunResult(pl.DataFrame({"week": [0]}), summary, seed)

    run_sweep(load_experiment(experiment_file(tmp_path, design, replications=2)), tmp_path / "s", workers=1, runner=by_seed)
    summary = pl.read_parquet(tmp_path / "s" / "summary.parquet")
    middle = sorted(summary["net_cost_mdkk"].unique())[0]
    when = f"status_quo.net_cost_mdkk <= {middle}"
    assert main(["discover", str(tmp_path / "s"), "--when", when, "--out", str(tmp_path / "none")]) == 0
    html = (tmp_path / "none" / "discovery.html").read_text()
    assert "CART found no split" in html and "PRIM found no box" in html
    assert "holds in 2 of 4 runs" in capsys.readouterr().out


def test_discovery_on_a_shrunk_caseload_sweep_of_the_real_model(tmp_path, capsys):
    """experiments/caseload_sweep.toml (one varied parameter, two strategies), shrunk to 26 weeks and
    2 tiny municipalities: ended in an IndexError inside the EMA Workbench's cart.py."""
    design = '[design]\nkind = "grid"\n[design.parameters]\n"council.caseload_target" = [40, 220]'
    run_sweep(load_experiment(experiment_file(tmp_path, design, replications=2)), tmp_path / "r", workers=1)
    assert main(["discover", str(tmp_path / "r"), "--when", "invest.net_cost_mdkk > status_quo.net_cost_mdkk",
                 "--out", str(tmp_path / "d")]) == 0
    text = (tmp_path / "d" / "discovery.txt").read_text()
    assert text.startswith("invest.net_cost_mdkk > status_quo.net_cost_mdkk: holds in")
    assert (tmp_path / "d" / "discovery.html").is_file()
