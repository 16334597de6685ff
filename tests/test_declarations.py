"""The mechanisms' declarations are the one source of the state tables, the weekly table,
the national figures and the result schema of docs/results.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from abm import mechanisms
from abm.agents import Caseworker, Cell, Citizen
from abm.metrics import COUNTED, IDENTITY, RECORDED, national, national_now, recorded_outputs, with_output_schema
from abm.model import JobcenterModel
from abm.simulate import national_weekly
from abm.state import CaseworkerState, CitizenState
from conftest import small_config

ROOT = Path(__file__).resolve().parent.parent


def test_the_result_schema_is_generated_from_the_declarations():
    page = (ROOT / "docs" / "results.md").read_text()
    assert page == with_output_schema(page), "run: python -m abm.metrics docs/results.md"


def test_state_tables_are_the_declared_columns():
    for table, state in (("citizens", CitizenState(np.array([4, 4]))), ("caseworkers", CaseworkerState(8))):
        declared = mechanisms.declared_columns(table)
        assert list(state.FIELDS) == list(declared)
        for name, (dtype, fill) in state.FIELDS.items():
            assert (dtype, fill) == (declared[name][1].dtype, declared[name][1].fill)


def test_weekly_table_has_every_declared_output_with_its_type():
    config = small_config(run__weeks=12, council__strategy_mix=["invest", "status_quo"])
    model = JobcenterModel(config, seed=5)
    weekly = model.run().weekly()
    recorded = recorded_outputs(config)
    assert weekly.columns == [*IDENTITY, *(output.name for output in recorded)]
    switched_off = {output.name for output in RECORDED} - {output.name for output in recorded}
    assert switched_off and all(output.when is not None for output in RECORDED if output.name in switched_off)
    for output in recorded:
        assert weekly.schema[output.name] == (pl.Int64 if output.dtype == "int" else pl.Float64), output.name
    assert set(model.tally.values) == set(COUNTED)
    assert {"exit_spell_weeks", "decision_weeks"} <= set(COUNTED) - {o.name for o in RECORDED}


def test_national_figures_follow_each_output_declaration():
    weekly = JobcenterModel(small_config(run__weeks=60), seed=6).run().weekly()
    country = national(weekly)
    week = weekly.filter(pl.col("week") == 59)
    last = country.filter(pl.col("week") == 59).row(0, named=True)
    clients = week["clients"].to_numpy()
    assert last["clients"] == clients.sum()
    assert np.isclose(last["trust_mean"], (week["trust_mean"].to_numpy() * clients).sum() / clients.sum())
    assert np.isclose(last["caseload_mean"], (clients.sum() - week["waiting_for_caseworker"].sum()) / week["caseworkers"].sum())
    assert "caseload_p90" not in country.columns  # a quantile does not add up
    smoothed = national_weekly(weekly).filter(pl.col("week") == 59)["turnover_annualised"].item()
    past_year = weekly.filter(pl.col("week") >= 8)
    assert np.isclose(smoothed, past_year["quits"].sum() * 52 / past_year["caseworkers"].sum())
    by_municipality = national(weekly, by=("municipality", "week")).sort("week", "municipality")
    assert np.allclose(by_municipality["trust_mean"].to_numpy(), weekly["trust_mean"].to_numpy(), equal_nan=True)


def test_one_week_and_a_table_of_weeks_add_up_the_same():
    """The DataCollector's figures (one week's row, numpy) are ``national``'s (polars) for that week."""
    model = JobcenterModel(small_config(council__strategy_mix=["pilot_then_scale", "austerity"]), seed=4)
    model.run(5)
    table = national(model.weekly()).filter(pl.col("week") == 4).row(0, named=True)
    names = [name for name in table if name != "week"]
    assert {"clients", "trust_mean", "caseload_mean", "turnover_annualised", "exit_spell_mean"} <= set(names)
    week = national_now(model.latest, names)
    for name in names:
        assert np.isclose(week[name], table[name], equal_nan=True), name
    series = model.datacollector.get_model_vars_dataframe()
    assert np.isclose(series["Trust"].iloc[-1], table["trust_mean"])
    assert np.isclose(series["Caseload"].iloc[-1], table["caseload_mean"])


def test_the_browser_app_adds_up_by_the_declared_rules():
    """The browser app's strategy lines are ``national``'s by strategy: a series of an output
    names it and takes its declared rule; a rate the table lacks is a rule over outputs."""
    from abm.metrics import TURNOVER_WINDOW
    from abm.viz.components import FIGURES, SERIES, shown_lines

    model = JobcenterModel(small_config(run__weeks=60, council__strategy_mix=["status_quo", "invest"]), seed=5)
    model.run()
    declared = {output.name for output in RECORDED}
    assert all(series.rule is None for series in (*SERIES, *(series for _, series, _ in FIGURES)) if series.name in declared)
    table = national(model.weekly(), by=("week", "strategy"), smooth={"turnover_annualised": TURNOVER_WINDOW}).sort("week")
    for series in SERIES:
        per_municipality, per_strategy = shown_lines(model, series)
        assert per_municipality.shape == (60, model.n_municipalities)
        for strategy, line in per_strategy:
            rows = table.filter(pl.col("strategy") == strategy)
            expected = (rows["clients"] * 1000 / rows["inhabitants"] if series.name == "clients_per_1000_inhabitants"
                        else rows[series.name] if series.name in declared else None)
            if expected is not None:
                full = slice(series.window - 1, None)  # the browser leaves out weeks before a full window
                assert np.allclose(line[full], expected.to_numpy()[full], rtol=1e-12), (series.title, strategy)
                assert np.isnan(line[: series.window - 1]).all()


def test_declared_summary_figures_follow_the_national_series():
    """An output's ``summary`` kinds become summary keys, computed from its national series."""
    from abm.simulate import run_simulation

    result = run_simulation(small_config(run__weeks=104, council__strategy="austerity", council__first_decision_week=0), seed=3)
    national_series = national_weekly(result.weekly)
    declared = {f"{o.name}_{kind}" for o in RECORDED for kind in o.summary}
    assert {"hires_per_year", "layoffs_per_year", "stress_mean_final_year"} <= declared <= set(result.summary)
    assert result.summary["hires_per_year"] == result.weekly["hires"].sum() / 2
    assert result.summary["layoffs_per_year"] == result.weekly["layoffs"].sum() / 2 > 0  # austerity lays off
    assert result.summary["stress_mean_final_year"] == national_series.filter(pl.col("week") >= 52)["stress_mean"].mean()


def test_a_summary_kind_an_output_cannot_have_is_refused():
    import pytest

    from abm.declarations import Output, Weighted

    with pytest.raises(ValueError, match="only a summed output"):
        Output("x_mean", "float", "0-1", "a mean", national=Weighted("clients"), measure=lambda m: None, summary=("total",))
    with pytest.raises(ValueError, match="kinds from"):
        Output("x", "int", "citizens", "a count", summary=("median",))


def test_the_mesa_agents_show_the_declared_columns_as_declared():
    model = JobcenterModel(small_config(run__weeks=2), seed=1)
    for agent_class in (Citizen, Caseworker):
        agent = next(iter(model.agents_by_type[agent_class]))
        for name, (_, column) in mechanisms.declared_columns(agent_class.TABLE).items():
            shown = getattr(agent_class, name, None)
            if column.agent == "hidden":
                assert not isinstance(shown, Cell), name
            elif isinstance(shown, Cell):
                assert shown.writable == (column.agent == "write") and (shown.low, shown.high) == (column.low, column.high), name
                assert getattr(agent, name) == getattr(model, agent_class.TABLE).__dict__[name][agent.row].item(), name
            else:
                assert isinstance(shown, property), f"{agent_class.__name__}.{name} is neither a column nor the class's own"
