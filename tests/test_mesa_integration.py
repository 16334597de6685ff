"""Mesa's own tools see the model: agent sets, the data collector, agent views of the columns."""

from __future__ import annotations

import gc
import weakref

import mesa

from abm.agents import Caseworker, Citizen, Council, Municipality
from abm.model import JobcenterModel
from conftest import small_config


def test_agents_are_mesa_agents_viewing_the_columns():
    model = JobcenterModel(small_config(council__strategy="invest"), seed=4)
    assert isinstance(model, mesa.Model)
    for _ in range(60):
        model.step()
    by_type = model.agents_by_type
    assert len(by_type[Council]) == len(by_type[Municipality]) == model.n_municipalities
    assert len(by_type[Citizen]) == model.citizens.size
    assert len(by_type[Caseworker]) == model.caseworkers.size
    present = by_type[Citizen].select(lambda agent: agent.active)
    assert len(present) == int(model.citizens.active.sum())
    citizen = present[0]
    assert citizen.trust == model.citizens.trust[citizen.row]
    staff = by_type[Caseworker].select(lambda agent: agent.active)
    assert sum(agent.caseload for agent in staff) == int((model.citizens.caseworker[model.citizens.active] >= 0).sum())
    assert by_type[Council].select(lambda council: council.strategy == "invest")
    assert sum(m.clients for m in by_type[Municipality]) == int(model.citizens.active.sum())


def test_datacollector_records_national_series():
    model = JobcenterModel(small_config(), seed=4)
    for _ in range(10):
        model.step()
    series = model.datacollector.get_model_vars_dataframe()
    assert len(series) == 10
    assert {"Clients", "Trust", "Protesters", "Turnover", "Net cost (M DKK/week)"} <= set(series.columns)
    assert series["Clients"].iloc[-1] == model.weekly().filter(model.weekly()["week"] == 9)["clients"].sum()


def test_a_finished_model_is_freed():
    """Mesa 3.3 keeps every model alive through its agents' id counters (mesa#3179); a
    sweep running hundreds of models in one process must not keep them all."""
    model = JobcenterModel(small_config(), seed=4)
    for _ in range(30):
        model.step()
    ids = [agent.unique_id for agent in model.agents]
    assert sorted(ids) == list(range(1, len(ids) + 1))  # still unique per model, from 1
    finished = weakref.ref(model)
    del model
    gc.collect()
    assert finished() is None
