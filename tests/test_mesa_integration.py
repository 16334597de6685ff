"""Mesa's own tools on the model, used as a Mesa user writes them.

Citizens and caseworkers are people (one agent each, ids kept while they stay), their
attributes read and write the columns the rules use, and Mesa's conventions hold:
``running``, ``run_model``, ``seed=None``, keyword parameters, ``batch_run``, the
DataCollector from step 0.
"""

from __future__ import annotations

import gc
import weakref

import mesa
import numpy as np
import polars as pl
import pytest

from abm.agents import Caseworker, Citizen, Council, Municipality
from abm import mechanisms
from abm.declarations import Rule
from abm.errors import ConfigError
from abm.metrics import TURNOVER_WINDOW, annualised_turnover
from abm.model import JobcenterModel, RunOver
from abm.parameters import Param
from abm.rules import progress
from abm.simulate import national_weekly, run_simulation
from conftest import small_config

TINY = {"municipalities__count": 2, "population_scale": 0.02, "burn_in_weeks": 4}
"""Keyword parameters of a model that builds in a fraction of a second."""


def person_rows(model) -> dict[int, int]:
    rows = model.citizens.occupied()
    return dict(zip(model.citizens.person[rows].tolist(), rows.tolist()))


def test_citizens_are_the_people_in_the_jobcenters():
    model = JobcenterModel(small_config(), seed=4)
    for _ in range(20):
        model.step()
    citizens = model.agents_by_type[Citizen]
    week = model.weekly().filter(pl.col("week") == 19)
    assert len(citizens) == week["clients"].sum() == len(model.citizens.occupied())
    trust = (week["trust_mean"] * week["clients"]).sum() / week["clients"].sum()
    assert citizens.agg("trust", np.mean) == pytest.approx(trust, rel=1e-12)
    assert sorted(citizens.get("person")) == sorted(person_rows(model))
    rows = person_rows(model)
    assert all(citizen.row == rows[citizen.person] for citizen in citizens)
    assert len(model.agents_by_type[Caseworker]) == week["caseworkers"].sum() == int(model.caseworkers.active.sum())
    assert len(model.agents_by_type[Council]) == len(model.agents_by_type[Municipality]) == model.n_municipalities
    assert len(model.agents) == len(citizens) + len(model.agents_by_type[Caseworker]) + 2 * model.n_municipalities


def test_an_agent_keeps_its_id_across_moves_and_repacking_and_leavers_leave_mesa():
    """Jobcenters draining with no inflow: the table is packed and people migrate."""
    model = JobcenterModel(small_config(labour_market__inflow_per_1000=0.0, population__start="given", migration__trust_threshold=1.0,
                                        migration__trust_margin=0.0, migration__weekly_chance=0.2,
                                        network__cross_share=0.5, run__weeks=150), seed=3)
    first = {citizen.person: citizen for citizen in model.agents_by_type[Citizen]}
    ids = {person: citizen.unique_id for person, citizen in first.items()}
    municipality = {person: citizen.municipality for person, citizen in first.items()}
    slots = model.citizens.size
    model.run()
    assert model.citizens.size < 0.5 * slots  # packed
    now = model.agents_by_type[Citizen]
    stayed = [citizen for citizen in now if citizen.person in ids]
    assert len(stayed) == len(now)  # no inflow: everyone now was there at the start
    assert all(ids[citizen.person] == citizen.unique_id and first[citizen.person] is citizen for citizen in stayed)
    assert sum(citizen.municipality != municipality[citizen.person] for citizen in stayed) > 0  # some moved
    rows = person_rows(model)
    assert all(citizen.trust == model.citizens.trust[rows[citizen.person]] for citizen in stayed)
    left = [agent for person, agent in first.items() if person not in rows]
    assert left and all(agent not in model.agents for agent in left)
    with pytest.raises(LookupError, match="no longer in the model"):
        left[0].trust


def test_newcomers_appear_and_caseworkers_are_employments():
    model = JobcenterModel(small_config(council__strategy="austerity", council__austerity_rate=0.5), seed=6)
    staff = {agent.hired_id: agent.unique_id for agent in model.agents_by_type[Caseworker]}
    for _ in range(60):
        people = {citizen.person for citizen in model.agents_by_type[Citizen]}
        first_new_id = model.citizens.person.max() + 1
        model.step()
        staff |= {agent.hired_id: agent.unique_id for agent in model.agents_by_type[Caseworker]}  # new hires too
    newcomers = {citizen.person for citizen in model.agents_by_type[Citizen]} - people
    assert 0 < len(newcomers) <= model.weekly().filter(pl.col("week") == 59)["inflow"].sum()
    assert min(newcomers) >= first_new_id  # this week's entrants (a mover keeps their id)
    now = {agent.hired_id: agent.unique_id for agent in model.agents_by_type[Caseworker]}
    assert set(now) == set(model.caseworkers.hired_id[model.caseworkers.active].tolist())
    assert all(now[h] == staff[h] for h in set(now) & set(staff))
    assert len(set(staff) - set(now)) == model.weekly()["quits"].sum() + model.weekly()["layoffs"].sum()  # whoever left
    citizen = model.agents_by_type[Citizen].select(lambda c: c.caseworker is not None)[0]
    assert citizen.caseworker.hired_id == model.caseworkers.hired_id[model.citizens.caseworker[citizen.row]]


def test_setting_trust_changes_what_the_rules_do():
    low, same = (JobcenterModel(small_config(), seed=8) for _ in range(2))
    low.agents_by_type[Citizen].set("trust", 0.0)
    assert low.citizens.trust[low.citizens.occupied()].max() == 0.0
    one = low.agents_by_type[Citizen][0]
    twin = next(c for c in same.agents_by_type[Citizen] if c.person == one.person)
    low.step()
    same.step()
    assert one.trust < twin.trust  # the trust rule started from the value set
    assert low.citizens.grievance[low.citizens.occupied()].mean() > same.citizens.grievance[same.citizens.occupied()].mean()
    for _ in range(3):  # grievance builds for a few weeks before thresholds are crossed
        low.step()
        same.step()
    assert low.weekly()["protesters"].sum() > same.weekly()["protesters"].sum()


def test_attributes_read_and_write_their_columns_and_unknown_ones_raise():
    model, twin = (JobcenterModel(small_config(), seed=4) for _ in range(2))
    citizen = model.agents_by_type[Citizen][3]
    citizen.health = 0.25
    assert model.citizens.health[citizen.row] == 0.25
    before = citizen.distance_factor
    citizen.distance = 0.9 if citizen.distance < 0.5 else 0.1
    expected = progress.distance_factor(model, np.array([citizen.distance]), np.array([citizen.group]))[0]
    assert citizen.distance_factor == expected != before  # the exit hazards follow the distance
    with pytest.raises(AttributeError, match="settable: .*trust"):
        citizen.wealth = 5
    with pytest.raises(AttributeError, match="person cannot be set"):
        citizen.person = 7
    with pytest.raises(AttributeError, match="caseload cannot be set"):
        model.agents_by_type[Caseworker][0].caseload = 3
    with pytest.raises(ValueError, match="out of range"):
        citizen.trust = float("nan")
    citizen.pos = (1, 2)  # Mesa's own attributes still work
    caseworker = model.agents_by_type[Caseworker][0]
    caseworker.stress = 0.9
    assert model.caseworkers.stress[caseworker.row] == 0.9
    council = model.council_agents[0]
    council.media_pressure = 0.7
    assert model.councils.media_pressure[0] == 0.7
    council.ordinary_positions = council.ordinary_positions + 20
    model.step()
    twin.step()
    recruiting = [m.weekly().filter(pl.col("municipality") == 0)["recruiting"][0] for m in (model, twin)]
    assert recruiting[0] >= recruiting[1] + 20  # the jobcenter recruits to the positions paid for


def test_looking_at_agents_changes_no_result():
    watched, alone = (JobcenterModel(small_config(run__weeks=30), seed=2) for _ in range(2))
    for _ in range(30):
        watched.step()
        watched.agents_by_type[Citizen].agg("trust", np.mean)
        watched.agents_by_type[Caseworker].agg("stress", np.mean)
    alone.run()
    assert watched.weekly().equals(alone.weekly())


def test_datacollector_follows_one_person_with_agent_reporters():
    model = JobcenterModel(small_config(), seed=4)
    collector = mesa.DataCollector(agenttype_reporters={Citizen: {"trust": "trust", "person": "person"}},
                                   agent_reporters={"kind": lambda agent: type(agent).__name__})
    expected = []
    staff_at_start = int(model.caseworkers.active.sum())
    for _ in range(12):
        collector.collect(model)
        expected.append({person: model.citizens.trust[row] for person, row in person_rows(model).items()})
        model.step()
    table = collector.get_agenttype_vars_dataframe(Citizen).reset_index()  # pandas, as Mesa gives it
    assert table.groupby("Step").size().tolist() == [len(week) for week in expected]
    weeks_seen = table.groupby("AgentID").size()
    someone = weeks_seen[weeks_seen == 12].index[0]
    series = table[table["AgentID"] == someone].sort_values("Step")
    assert series["person"].nunique() == 1  # one agent id, one person
    person = series["person"].iloc[0]
    assert series["trust"].tolist() == [week[person] for week in expected]
    kinds = collector.get_agent_vars_dataframe().reset_index()
    assert kinds[kinds["Step"] == 0]["kind"].value_counts().to_dict() == {
        "Citizen": len(expected[0]), "Caseworker": staff_at_start, "Council": model.n_municipalities,
        "Municipality": model.n_municipalities}


def test_model_datacollector_collects_at_week_0_and_after_every_week():
    model = JobcenterModel(small_config(), seed=4)
    start = int(model.citizens.active.sum())
    for _ in range(10):
        model.step()
    series = model.datacollector.get_model_vars_dataframe()
    assert len(series) == 11
    assert series["Clients"].iloc[0] == start
    weekly = model.weekly()
    national = weekly.group_by("week").agg(pl.col("clients", "quits", "caseworkers").sum()).sort("week")
    assert series["Clients"].iloc[1:].tolist() == national["clients"].to_list()
    assert series["Turnover"].iloc[1:].tolist() == annualised_turnover(national["quits"], national["caseworkers"]).tolist()


def test_turnover_has_one_definition_with_its_window():
    result = run_simulation(small_config(run__weeks=120), seed=3)
    national = national_weekly(result.weekly)
    quits, staff = national["quits"].to_numpy(), national["caseworkers"].to_numpy()
    last = national["turnover_annualised"][-1]
    assert last == pytest.approx(quits[-TURNOVER_WINDOW:].sum() * 52 / staff[-TURNOVER_WINDOW:].sum(), rel=1e-12)
    assert result.summary["turnover_annual"] == pytest.approx(quits.sum() * 52 / staff.sum(), rel=1e-12)


def test_run_model_stops_at_the_end_and_a_step_beyond_is_an_error():
    model = JobcenterModel(run__weeks=5, **TINY)
    model.run_model()
    assert not model.running and model.steps == 5 and model.weekly()["week"].max() == 4
    with pytest.raises(RunOver, match="run.weeks = 5"):
        model.step()
    assert model.steps == 5


def test_seed_none_draws_a_fresh_seed_and_a_seed_reproduces():
    first, second = (JobcenterModel(run__weeks=3, **TINY) for _ in range(2))
    assert first.seed != second.seed and first.config.run.seed == first.seed
    first.run_model()
    again = JobcenterModel(run__weeks=3, seed=first.seed, **TINY)
    again.run_model()
    assert again.weekly().equals(first.weekly())
    assert JobcenterModel(run__weeks=3, run__seed=first.seed, **TINY).seed == first.seed


def test_keyword_parameters_name_the_schema():
    model = JobcenterModel(caseload_target=70, council__strategy="invest", **TINY)
    assert model.config.council.caseload_target == 70.0 and model.config.council.strategy == "invest"
    assert model.config.municipalities.count == 2
    with pytest.raises(ConfigError, match="unknown parameter 'caseload_targt' \\(did you mean 'caseload_target'\\?\\)"):
        JobcenterModel(caseload_targt=70, **TINY)
    with pytest.raises(ConfigError, match='council.caseload_target = "many" is not allowed'):
        JobcenterModel(caseload_target="many", **TINY)


def test_a_leaf_name_in_two_sections_is_refused():
    mechanisms.register(Rule("elsewhere", params={"elsewhere": {"caseload_target": Param(1.0, "", "A second key of that name.", "test")}}))
    try:
        with pytest.raises(ConfigError, match="several sections; give one of council__caseload_target, elsewhere__caseload_target"):
            JobcenterModel(caseload_target=70, **TINY)
    finally:
        mechanisms.unregister("elsewhere")


def test_batch_run_gives_different_runs_per_point_and_writes_parquet(tmp_path):
    results = mesa.batch_run(JobcenterModel, parameters={"caseload_target": [55, 80], "run__weeks": 6, **TINY},
                             iterations=3, max_steps=52, number_processes=1, data_collection_period=1,
                             display_progress=False)
    frame = pl.DataFrame(results)
    assert frame["RunId"].n_unique() == 6 and frame["Step"].max() == 5
    last = frame.filter(pl.col("Step") == 5)
    for target in (55, 80):
        runs = last.filter(pl.col("caseload_target") == target)
        assert runs["iteration"].sort().to_list() == [0, 1, 2]
        assert runs["Net cost (M DKK/week)"].n_unique() == 3  # three seeds, three different runs
    frame.write_parquet(tmp_path / "batch.parquet")
    assert pl.read_parquet(tmp_path / "batch.parquet").equals(frame)


def test_a_finished_model_is_freed():
    """Mesa 3.3 keeps every model alive through its agents' id counters (mesa#3179); a
    sweep running hundreds of models in one process must not keep them all."""
    model = JobcenterModel(small_config(), seed=4)
    ids = [agent.unique_id for agent in model.agents]
    for _ in range(30):
        model.step()
    later = [agent.unique_id for agent in model.agents]
    assert len(set(later)) == len(later) and min(ids) == 1 and max(later) > max(ids)  # unique per model, from 1
    finished = weakref.ref(model)
    del model
    gc.collect()
    assert finished() is None
