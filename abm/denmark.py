"""Denmark's 98 municipalities by name, and settings given to municipalities by name.

``municipalities()`` reads the packaged table (code, name, region and population on
1 January 2024 from Statistics Denmark; sources in ``abm/data/municipalities.md``).
``municipality_frame`` says which municipalities a run simulates: the synthetic,
Denmark-like sizes (``municipalities.preset = "synthetic"``, named "Synthetic 01" ...
with no region) or real ones (``"denmark"``: all 98, ``count`` of them taken evenly across
sizes, or those listed in ``municipalities.names``). ``by_municipality`` turns a config
table keyed by name (``council.strategy_by_municipality``) into one value per municipality.
Every unknown name is a :class:`~abm.errors.ConfigError` that lists the nearest names.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources
from typing import Any, Iterable, Mapping

import numpy as np
import polars as pl

from abm.errors import ConfigError
from abm.parameters import Check
from abm.population import DENMARK_MUNICIPALITIES, municipality_sizes

REGIONS = ("Hovedstaden", "Midtjylland", "Nordjylland", "Sjælland", "Syddanmark")


@cache
def _table() -> pl.DataFrame:
    with resources.files("abm").joinpath("data/municipalities.csv").open("rb") as handle:
        return pl.read_csv(handle, schema={"code": pl.Int32, "name": pl.String, "region": pl.String, "population": pl.Int64})


def municipalities() -> pl.DataFrame:
    """Denmark's 98 municipalities: ``code``, ``name``, ``region``, ``population`` (1 January 2024)."""
    return _table().clone()


def municipality_frame(p_muni, origin: str = "config") -> pl.DataFrame:
    """The run's municipalities in index order: ``name``, ``region`` (null if synthetic), ``inhabitants``.

    ``p_muni`` is the ``municipalities`` section; inhabitants are scaled by
    ``population_scale`` (at least 1 each).
    """
    if p_muni.preset == "synthetic":
        if p_muni.names:
            raise ConfigError(
                f"{origin}: municipalities.names = {list(p_muni.names)!r} needs municipalities.preset = \"denmark\" "
                "(synthetic municipalities have no names to choose from)"
            )
        sizes = municipality_sizes(p_muni)
        width = max(2, len(str(len(sizes))))
        return pl.DataFrame({
            "name": [f"Synthetic {m + 1:0{width}d}" for m in range(len(sizes))],
            "region": pl.Series([None] * len(sizes), dtype=pl.String),
            "inhabitants": sizes,
        })
    if p_muni.sizes:
        raise ConfigError(
            f"{origin}: municipalities.sizes is for the synthetic preset; with municipalities.preset = \"denmark\" "
            "the sizes are Denmark's (choose municipalities with municipalities.names or count)"
        )
    chosen = _chosen(p_muni, origin)
    inhabitants = np.maximum(np.round(chosen["population"].to_numpy() * p_muni.population_scale), 1).astype(np.int64)
    return chosen.select("name", "region").with_columns(pl.Series("inhabitants", inhabitants))


def _chosen(p_muni, origin: str) -> pl.DataFrame:
    """The named municipalities in the order given, else ``count`` of them evenly across sizes (in code order)."""
    table = _table()
    if p_muni.names:
        duplicates = sorted({name for name in p_muni.names if list(p_muni.names).count(name) > 1})
        if duplicates:
            raise ConfigError(f"{origin}: municipalities.names lists {', '.join(map(repr, duplicates))} more than once")
        index = {name: row for row, name in enumerate(table["name"])}
        for name in p_muni.names:
            check_name(name, table["name"], origin, "municipalities.names")
        return table[[index[name] for name in p_muni.names]]
    if p_muni.count >= DENMARK_MUNICIPALITIES:
        return table
    by_size = table.with_row_index("row").sort("population", "code")
    picks = np.round(np.linspace(0, DENMARK_MUNICIPALITIES - 1, p_muni.count)).astype(int) if p_muni.count > 1 else [DENMARK_MUNICIPALITIES // 2]
    return table[sorted(by_size["row"].gather(picks).to_list())]


def check_name(name: str, known: Iterable[str], origin: str, key: str) -> None:
    """A ConfigError naming the nearest municipalities unless ``name`` is one of ``known``."""
    known = list(known)
    if name in known:
        return
    if name in _table()["name"]:
        raise ConfigError(f"{origin}: {key}: {name!r} is not one of this run's municipalities ({', '.join(map(repr, known))})")
    folded = {k.casefold(): k for k in known}
    nearest = difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.5)
    hint = f"nearest: {', '.join(repr(folded[n]) for n in nearest)}" if nearest else f"known: {', '.join(map(repr, known))}"
    raise ConfigError(f"{origin}: {key}: unknown municipality {name!r}; {hint}")


def by_municipality(table: Mapping[str, Any], names: list[str], default: Any, origin: str, key: str) -> list[Any]:
    """One value per municipality: the table's value for its name, else ``default``."""
    for name in table:
        check_name(name, names, origin, key)
    return [table.get(name, default) for name in names]


def run_municipalities(config) -> pl.DataFrame:
    """The run's municipalities with their settings by name: ``name``, ``region``, ``inhabitants``,
    ``strategy`` (null: as ``council.strategy``/``strategy_mix``) and ``initial_caseload``.

    Makes every check that needs more than one key (a name must be a municipality of the
    run), so ``abm validate`` and a model build report the same mistakes.
    """
    origin = config.origin
    frame = municipality_frame(config.municipalities, origin)
    if config.network.council_peers == "region" and frame["region"].null_count():
        raise ConfigError(
            f"{origin}: network.council_peers = \"region\" needs municipalities.preset = \"denmark\" "
            "(synthetic municipalities have no region); use \"random\" or \"size\""
        )
    names = frame["name"].to_list()
    p = config.council
    strategy = by_municipality(p.strategy_by_municipality, names, None, origin, "council.strategy_by_municipality")
    caseload = by_municipality(
        p.initial_caseload_by_municipality, names, p.initial_caseload, origin, "council.initial_caseload_by_municipality"
    )
    return frame.with_columns(
        pl.Series("strategy", strategy, dtype=pl.String), pl.Series("initial_caseload", caseload, dtype=pl.Float64)
    )


def _municipalities_problem(config) -> str | None:
    """What :func:`run_municipalities` finds wrong, as a config check, so every config is
    checked before anything runs (file, --set, experiments, design points, abm.evaluate)."""
    try:
        run_municipalities(config)
    except ConfigError as error:
        return str(error).removeprefix(f"{config.origin}: ")
    return None


CHECKS = [Check(("municipalities.preset", "municipalities.names", "municipalities.sizes", "network.council_peers",
                 "council.strategy_by_municipality", "council.initial_caseload_by_municipality"), _municipalities_problem)]


def named_strategies(assigned: list[str], municipalities: pl.DataFrame) -> list[str]:
    """Each municipality's strategy: ``assigned`` (by turn), with the strategies set by name put in."""
    return [own if named is None else named for own, named in zip(assigned, municipalities["strategy"].to_list())]
