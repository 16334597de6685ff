"""Bookkeeping invariants, checked every week over long runs and odd configs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from abm.agents import Citizen
from abm.model import JobcenterModel
from abm.network import meet_friends
from abm.people import PACK_SAVING, SLOT_HEADROOM
from abm.rules.progress import EXITS
from abm.state import NO_CASEWORKER
from abm.strategies import names
from conftest import small_config

ODD_CONFIGS = {
    "default small": {},
    "long run, mixed strategies": {"run.weeks": 520, "council.strategy_mix": list(names()), "municipalities.count": 6},
    "tiny municipalities": {"municipalities.population_scale": 0.001, "municipalities.count": 5},
    "one huge municipality": {"municipalities.sizes": [1_500_000], "run.weeks": 30, "run.burn_in_weeks": 10},
    "zero caseworkers": {"council.strategy": "austerity", "council.austerity_rate": 1.0},
    "zero inflow": {"labour_market.inflow_per_1000": 0.0},
    "recession cycle, fast protests": {"labour_market.scenario": "recession", "labour_market.cycle_amplitude": 0.5,
                                       "population.protest_threshold_mean": 0.3, "council.initial_caseload": 250.0},
    "named Danish municipalities, settings by name, region peers": {
        "municipalities.preset": "denmark", "municipalities.names": ["Læsø", "Høje-Taastrup", "Ishøj", "Aalborg"],
        "council.strategy_by_municipality": {"Høje-Taastrup": "imitate", "Aalborg": "austerity"},
        "council.initial_caseload_by_municipality": {"Læsø": 30.0}, "network.council_peers": "region"},
    "field trial mechanisms, with a pilot beside": {
        "council.trial_weeks": 30, "council.trial_start_week": 3, "council.trial_merge_at_end": True,
        "council.strategy_mix": ["status_quo", "pilot_then_scale", "invest"], "council.first_decision_week": 2,
        "progress.out_of_labour_force_hazard": 0.01, "casework.early_contact_weeks": 13, "casework.early_contact_factor": 2.0,
        "casework.absence_start_week": 5, "casework.absence_weeks": 10, "population.start": "stationary"},
}


def check_state(model: JobcenterModel) -> None:
    citizens, staff = model.citizens, model.caseworkers
    active = citizens.active
    persons = citizens.person[active]
    assert len(np.unique(persons)) == len(persons), "a person is counted twice"
    assert np.all(citizens.person[~active] == -1)
    assigned = citizens.caseworker[active & (citizens.caseworker != NO_CASEWORKER)]
    assert np.all(staff.active[assigned]), "a citizen is assigned to an empty caseworker row"
    assert np.array_equal(staff.caseload, np.bincount(assigned, minlength=staff.size)), "caseloads do not add up"
    assert np.all(staff.municipality[assigned] == citizens.slot_municipality[active & (citizens.caseworker >= 0)])
    for column in (citizens.trust, citizens.health, citizens.grievance, citizens.quality, staff.stress):
        assert np.all(np.isfinite(column)) and column.min(initial=0) >= 0
    assert citizens.trust.max() <= 1 and citizens.health.max() <= 1
    assert np.all(model.councils.headcount >= 0)


def check_agents(model: JobcenterModel) -> None:
    """Mesa's citizens are the people in the table, each agent at its person's row."""
    citizens = model.agents_by_type[Citizen]
    rows = model.citizens.occupied()
    assert sorted(citizens.get("person")) == sorted(model.citizens.person[rows].tolist())
    assert all(model.citizens.person[agent.row] == agent.person for agent in citizens)


def check_weekly(weekly: pl.DataFrame) -> None:
    numeric = weekly.select(pl.exclude(pl.String))  # strategy, municipality_name, region are labels
    for column in numeric.columns:
        values = numeric[column].drop_nulls().to_numpy().astype(float)
        assert np.all(np.isfinite(values)), f"{column} has NaN or inf"
        assert values.min(initial=0) >= 0, f"{column} is negative"
    flows = weekly.sort("municipality", "week").with_columns(
        pl.col("clients").shift(1).over("municipality").alias("previous")
    ).drop_nulls("previous")
    exits = sum(flows[f"exits_{kind}"] for kind in EXITS if f"exits_{kind}" in flows.columns)  # some only when switched on
    expected = flows["previous"] + flows["inflow"] + flows["moved_in"] - flows["moved_out"] - exits
    assert (expected == flows["clients"]).all(), "citizens lost or created between weeks"
    moves = weekly.group_by("week").agg(pl.col("moved_in").sum(), pl.col("moved_out").sum())
    assert (moves["moved_in"] == moves["moved_out"]).all(), "a move lost or created a citizen"
    assert np.allclose(weekly["net_cost"], weekly["benefit_cost"] + weekly["staff_cost"]), "costs do not add up"
    assert (weekly["clients"] == weekly["clients_job_ready"] + weekly["clients_activity_ready"] + weekly["clients_resource"]).all()
    assert (weekly["sick_pressed"] <= weekly["sick"]).all()


@pytest.mark.parametrize("name", ODD_CONFIGS)
def test_invariants_hold_every_week(name):
    config = small_config(**{k.replace(".", "__"): v for k, v in ODD_CONFIGS[name].items()})
    model = JobcenterModel(config, seed=11)
    check_state(model)
    for _ in range(config.run.weeks):
        model.step()
        check_state(model)
    check_weekly(model.weekly())


def test_zero_caseworkers_leaves_everyone_waiting():
    model = JobcenterModel(small_config(council__strategy="austerity", council__austerity_rate=1.0), seed=2)
    model.run()
    weekly = model.weekly()
    last = weekly.filter(pl.col("week") == weekly["week"].max())
    assert last["caseworkers"].sum() == 0
    assert (last["waiting_for_caseworker"] == last["clients"]).all()


def test_zero_inflow_drains_the_jobcenters():
    # A given stock (a stationary one is empty without inflow) drains.
    model = JobcenterModel(small_config(labour_market__inflow_per_1000=0.0, population__start="given", run__weeks=300), seed=2)
    model.run()
    weekly = model.weekly()
    assert weekly["inflow"].sum() == 0
    first, last = (weekly.filter(pl.col("week") == w)["clients"].sum() for w in (0, 299))
    assert last < 0.5 * first


def test_growing_past_the_reserved_slots_keeps_everyone():
    """A recession with no caseworkers overflows the slots reserved at the start."""
    config = small_config(council__strategy="austerity", council__austerity_rate=1.0,
                          labour_market__scenario="recession", run__weeks=200)
    model = JobcenterModel(config, seed=5)
    start_slots = model.citizens.size
    model.run()
    assert model.citizens.size > start_slots
    check_state(model)
    check_weekly(model.weekly())
    check_agents(model)


def test_draining_packs_the_table_and_keeps_everyone():
    """As the jobcenters empty, the table of slots shrinks; state, agents and ties follow the people."""
    model = JobcenterModel(small_config(labour_market__inflow_per_1000=0.0, population__start="given", run__weeks=150), seed=3)
    check_agents(model)  # made before any pack, so they must follow
    start_slots = model.citizens.size
    for _ in range(model.config.run.weeks):
        model.step()
        check_state(model)
    citizens = model.citizens
    assert citizens.size < 0.5 * start_slots
    clients = citizens.block_sizes() - citizens.free_count()
    assert citizens.size * (1 - PACK_SAVING) < (np.ceil(clients * SLOT_HEADROOM) + 16).sum()  # nothing left to pack
    check_agents(model)
    assert model.network.ties.min() >= 0 and model.network.ties.max() < citizens.size
    check_weekly(model.weekly())


def test_packing_moves_every_person_with_their_state_ties_and_friend():
    model = JobcenterModel(small_config(), seed=4)
    citizens = model.citizens
    leaving = citizens.occupied()[::2]
    model.people.leave(leaving, np.zeros(len(leaving), dtype=np.int8))  # half leave (to jobs): the table is now mostly empty
    meet_friends(model)

    def people():
        rows = citizens.occupied()
        order = np.argsort(citizens.person[rows])
        state = {name: getattr(citizens, name)[rows][order] for name in citizens.FIELDS}
        state["municipality"] = citizens.slot_municipality[rows][order]
        person_of = np.where(citizens.active, citizens.person, -1)
        ties = {(a, b) for a, b in zip(np.repeat(person_of[rows], model.network.ties.shape[1]).tolist(),
                                       person_of[model.network.ties[rows].ravel()].tolist()) if b >= 0}
        friends = {(a, b) for a, b in zip(person_of[rows].tolist(), person_of[model.friend[rows]].tolist()) if b >= 0}
        return state, ties, friends

    size = citizens.size
    state, ties, friends = people()
    model.people.pack_when_sparse()
    state_after, ties_after, friends_after = people()
    assert citizens.size < 0.75 * size
    for name, values in state.items():
        assert np.array_equal(values, state_after[name]), name
    assert ties <= ties_after  # ties between people stay; ties to empty slots are drawn anew
    assert friends == {(a, b) for a, b in friends_after if a != b}  # a friend in an empty slot: talks to no one
    check_state(model)
