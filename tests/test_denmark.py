"""Denmark's municipalities by name: the data, the preset, settings by name, names in results, peers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from abm import JobcenterModel, load_config, run_simulation
from abm.config import defaults
from abm.denmark import REGIONS, municipalities, run_municipalities
from abm.errors import ConfigError
from abm.population import municipality_sizes

# Denmark's population on 1 January 2024 (Statistics Denmark, FOLK1A 2024K1), the date of the data.
DENMARK_1_JANUARY_2024 = 5_961_249

SHORT = {"run.weeks": 60, "run.burn_in_weeks": 8, "municipalities.population_scale": 0.05}


def denmark(**overrides):
    values = {"municipalities.preset": "denmark", **SHORT}
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    return defaults().with_overrides(values)


# -- the data ---------------------------------------------------------------------------


def test_the_data_holds_denmarks_98_municipalities_with_unique_codes_and_names():
    table = municipalities()
    assert table.height == 98
    assert table["code"].n_unique() == 98 and table["name"].n_unique() == 98
    assert sorted(table["region"].unique()) == sorted(REGIONS)
    assert table.null_count().sum_horizontal().item() == 0
    codes = dict(zip(table["name"], table["code"]))
    assert codes["København"] == 101 and codes["Aarhus"] == 751 and codes["Høje-Taastrup"] == 169 and codes["Læsø"] == 825


def test_populations_sum_to_denmarks_total_for_their_date():
    total = municipalities()["population"].sum()
    assert abs(total - DENMARK_1_JANUARY_2024) / DENMARK_1_JANUARY_2024 < 0.01
    assert municipalities()["population"].min() > 1000  # Læsø, the smallest, has about 1,800


def test_each_region_has_its_municipalities():
    counts = dict(municipalities().group_by("region").len().iter_rows())
    assert counts == {"Hovedstaden": 29, "Midtjylland": 19, "Nordjylland": 11, "Sjælland": 17, "Syddanmark": 22}


# -- the preset -------------------------------------------------------------------------


def test_named_subset_runs_with_its_names_regions_and_scaled_populations():
    names = ["Læsø", "Høje-Taastrup", "København"]
    result = run_simulation(denmark(municipalities__names=names), seed=3)
    week0 = result.weekly.filter(pl.col("week") == 0).sort("municipality")
    assert week0["municipality_name"].to_list() == names  # in the order given
    assert week0["region"].to_list() == ["Nordjylland", "Hovedstaden", "Hovedstaden"]
    population = dict(zip(municipalities()["name"], municipalities()["population"]))
    assert week0["inhabitants"].to_list() == [round(population[n] * 0.05) for n in names]
    assert result.summary["municipalities"] == 3


def test_count_picks_evenly_across_sizes_from_smallest_to_largest():
    frame = run_municipalities(denmark(municipalities__count=5))
    assert frame.height == 5 and {"Læsø", "København"} <= set(frame["name"])
    assert run_municipalities(denmark(municipalities__count=98)).height == 98
    assert run_municipalities(denmark(municipalities__count=1)).height == 1


def test_synthetic_preset_is_unchanged_and_named_synthetic():
    config = defaults().with_overrides({"municipalities.count": 12, "municipalities.population_scale": 0.1})
    frame = run_municipalities(config)
    assert frame["name"].to_list()[:2] == ["Synthetic 01", "Synthetic 02"]
    assert frame["region"].null_count() == 12
    assert np.array_equal(frame["inhabitants"].to_numpy(), municipality_sizes(config.municipalities))


@pytest.mark.parametrize("overrides, fragment", [
    ({"municipalities.names": ["Kobenhavn"]}, "nearest: 'København'"),
    ({"municipalities.names": ["Aarhus", "Aarhus"]}, "more than once"),
    ({"municipalities.sizes": [1000, 2000]}, "municipalities.sizes is for the synthetic preset"),
])
def test_preset_mistakes_are_clear_errors(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        run_municipalities(denmark(**{k.replace(".", "__"): v for k, v in overrides.items()}))


def test_names_need_the_denmark_preset():
    with pytest.raises(ConfigError, match='needs municipalities.preset = "denmark"'):
        defaults().with_overrides({"municipalities.names": ["Aarhus"]})  # checked with the config (denmark.CHECKS)


# -- settings by name -------------------------------------------------------------------


def test_settings_by_name_are_read_from_a_config_table(tmp_path):
    path = tmp_path / "named.toml"
    path.write_text(
        '[municipalities]\npreset = "denmark"\nnames = ["Høje-Taastrup", "København"]\n'
        '[council.strategy_by_municipality]\n"Høje-Taastrup" = "invest"\n'
        '[council.initial_caseload_by_municipality]\n"Høje-Taastrup" = 120\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.council.strategy_by_municipality == {"Høje-Taastrup": "invest"}
    assert config.council.initial_caseload_by_municipality == {"Høje-Taastrup": 120.0}
    assert '"initial_caseload_by_municipality":{"H\\u00f8je-Taastrup":120.0}' in config.to_json()  # recorded with the run
    frame = run_municipalities(config)
    assert frame["strategy"].to_list() == ["invest", None]
    assert frame["initial_caseload"].to_list() == [120.0, 100.0]


def test_unknown_name_in_a_setting_lists_the_nearest_names(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text(
        '[municipalities]\npreset = "denmark"\nnames = ["Høje-Taastrup", "Aarhus"]\n'
        '[council.strategy_by_municipality]\n"Hoje-Taastrup" = "invest"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"typo.toml: council.strategy_by_municipality: unknown municipality 'Hoje-Taastrup'; nearest: 'Høje-Taastrup'"):
        run_municipalities(load_config(path))
    with pytest.raises(ConfigError, match="'Odense' is not one of this run's municipalities"):
        run_municipalities(load_config(path, ["council.strategy_by_municipality={}",
                                              'council.initial_caseload_by_municipality={"Odense" = 90}']))


def test_a_bad_value_in_a_setting_by_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="Aarhus = 'investt' is not allowed"):
        defaults().with_overrides({"council.strategy_by_municipality": {"Aarhus": "investt"}})
    with pytest.raises(ConfigError, match="Aarhus = 0.0 is not allowed"):
        defaults().with_overrides({"council.initial_caseload_by_municipality": {"Aarhus": 0.0}})


def test_validate_reports_an_unknown_name_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "abm.cli", "validate", "configs/denmark_named.toml",
         "--set", 'council.strategy_by_municipality={"Hoje-Taastrup"="invest"}'],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "unknown municipality 'Hoje-Taastrup'; nearest: 'Høje-Taastrup'" in done.stderr


def test_a_strategy_set_by_name_is_followed_by_that_municipality():
    """Against the same run without the setting: only the named council hires (to the target caseload of 55)."""
    runs = {}
    for named in ({"Høje-Taastrup": "invest"}, {}):
        config = denmark(
            municipalities__names=["Høje-Taastrup", "Ishøj"], council__strategy="status_quo",
            council__strategy_by_municipality=named, council__initial_caseload_spread=0.0,
            council__first_decision_week=0, municipalities__population_scale=0.2,
        )
        model = JobcenterModel(config, seed=2)
        runs[bool(named)] = model.run().weekly()
        if named:
            assert model.councils.strategy_names() == ["invest", "status_quo"]
    named, unnamed = (runs[k].group_by("municipality_name").agg(pl.col("positions").mean(), pl.col("strategy").first()).sort("municipality_name") for k in (True, False))
    assert named["strategy"].to_list() == ["invest", "status_quo"]  # Høje-Taastrup, Ishøj
    assert named["positions"][0] > 1.3 * unnamed["positions"][0]
    assert named["positions"][1] == unnamed["positions"][1]


def test_a_starting_caseload_set_by_name_is_where_that_council_starts():
    config = denmark(
        municipalities__names=["Høje-Taastrup", "Ishøj"], council__initial_caseload_spread=0.0,
        council__initial_caseload_by_municipality={"Høje-Taastrup": 200.0},
    )
    model = JobcenterModel(config, seed=2)
    assert model.councils.starting_caseload.tolist() == [200.0, 100.0]


def test_the_shipped_named_config_runs():
    config = load_config("configs/denmark_named.toml", ["run.weeks=4", "run.burn_in_weeks=2"])
    week0 = run_simulation(config, seed=1).weekly.filter(pl.col("week") == 0)
    strategies = dict(zip(week0["municipality_name"], week0["strategy"]))
    assert strategies["Høje-Taastrup"] == "invest" and strategies["København"] == "status_quo"
    assert model_agents_named(config)


def model_agents_named(config) -> bool:
    model = JobcenterModel(config.with_overrides({"run.burn_in_weeks": 0}), seed=1)
    return [(a.name, a.region) for a in model.municipality_agents][:2] == [("København", "Hovedstaden"), ("Høje-Taastrup", "Hovedstaden")]


# -- the councils' peers ------------------------------------------------------------------


def test_region_peers_are_the_other_councils_of_the_region():
    names = ["København", "Høje-Taastrup", "Aarhus", "Odense", "Vejle", "Læsø"]
    model = JobcenterModel(denmark(municipalities__names=names, network__council_peers="region", run__burn_in_weeks=0), seed=1)
    peers = [[names[p] for p in m] for m in model.council_peers]
    assert peers == [["Høje-Taastrup"], ["København"], [], ["Vejle"], ["Odense"], []]


def test_size_peers_are_the_nearest_in_size():
    model = JobcenterModel(denmark(municipalities__count=98, network__council_peers="size", network__council_degree=2,
                                   municipalities__population_scale=0.002, run__burn_in_weeks=0), seed=1)
    names = model.municipalities["name"].to_list()
    population = dict(zip(names, model.inhabitants))  # the scaled sizes the councils see
    laeso = names.index("Læsø")
    assert sorted(names[p] for p in model.council_peers[laeso]) == ["Fanø", "Samsø"]  # the next smallest islands
    for m, peers in enumerate(model.council_peers):
        assert len(peers) == 2 and m not in peers
        further = max(abs(np.log(population[names[p]] / population[names[m]])) for p in peers)
        others = [o for o in range(98) if o != m and o not in peers]
        assert min(abs(np.log(population[names[o]] / population[names[m]])) for o in others) >= further


def test_region_peers_need_regions():
    with pytest.raises(ConfigError, match='council_peers = "region" needs municipalities.preset = "denmark"'):
        JobcenterModel(defaults().with_overrides({"network.council_peers": "region", **SHORT}), seed=1)
