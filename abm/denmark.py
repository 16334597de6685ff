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
import warnings
from functools import cache
from importlib import resources
from typing import Any, Iterable, Mapping

import numpy as np
import polars as pl

from abm.errors import ConfigError
from abm.parameters import Check
from abm.population import DENMARK_MUNICIPALITIES, given_clients, municipality_sizes

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
        municipalities = run_municipalities(config)
    except ConfigError as error:
        return str(error).removeprefix(f"{config.origin}: ")
    _warn_understaffed(config, municipalities)
    return None


MIN_CASEWORKERS = 3
"""Fewest caseworkers a scaled-down municipality may start with before its results are
warned about: with one or two, a single quit halves the office and a caseload is a few clients."""
CASELOAD_TOLERANCE = 0.2
"""Farthest the whole-number headcount may put the starting caseload from the intended one
(``ceil(clients / caseload)`` caseworkers for 9 clients at 100 per caseworker is a caseload of 9)."""


class SmallMunicipalityWarning(UserWarning):
    """A scaled-down municipality too small for its results to mean anything (:func:`understaffed`)."""


def understaffed(config, municipalities: pl.DataFrame | None = None) -> pl.DataFrame:
    """The municipalities too small to mean anything at this ``population_scale``: ``name``,
    ``clients`` and ``caseworkers`` expected at the start, and the ``caseload`` that headcount gives.

    The rule (docs/decision-support.md, "How small is too small"): with ``population_scale`` below 1, a municipality is too
    small when its expected clients at the start (``population.client_share`` of its
    inhabitants) give fewer than :data:`MIN_CASEWORKERS` caseworkers at its starting caseload,
    or a whole number of caseworkers that puts the caseload more than
    :data:`CASELOAD_TOLERANCE` from it. At scale 1 and above the sizes are Denmark's and so
    are small offices (Læsø's): nothing is flagged.
    """
    frame = run_municipalities(config) if municipalities is None else municipalities
    empty = pl.DataFrame(schema={"name": pl.String, "clients": pl.Float64, "caseworkers": pl.Int64, "caseload": pl.Float64})
    if config.municipalities.population_scale >= 1:
        return empty
    clients = given_clients(frame["inhabitants"].to_numpy(), config).astype(float)
    intended = frame["initial_caseload"].to_numpy()
    caseworkers = np.ceil(clients / intended).astype(np.int64)
    caseload = np.divide(clients, caseworkers, out=np.zeros_like(clients), where=caseworkers > 0)
    small = (caseworkers < MIN_CASEWORKERS) | (np.abs(caseload / intended - 1) > CASELOAD_TOLERANCE)
    return pl.DataFrame({"name": frame["name"], "clients": clients, "caseworkers": caseworkers,
                         "caseload": caseload}).filter(pl.Series(small))


def smallest_adequate_scale(config, municipalities: pl.DataFrame) -> float:
    """The ``population_scale`` from which every municipality starts with :data:`MIN_CASEWORKERS`
    caseworkers (the rounding rule may still flag a few, by ill luck of their size)."""
    clients = given_clients(municipalities["inhabitants"].to_numpy(), config).astype(float)
    needed = MIN_CASEWORKERS * municipalities["initial_caseload"].to_numpy() / np.maximum(clients, 0.5)
    return float(config.municipalities.population_scale * needed.max())


_WARNED: dict = {}  # the warnings registry: each message once per process, however often a config is checked


def _warn_understaffed(config, municipalities: pl.DataFrame) -> None:
    small = understaffed(config, municipalities)
    if small.is_empty():
        return
    shown = ", ".join(f"{row['name']} ({row['caseworkers']} for {row['clients']:.0f} clients)"
                      for row in small.head(4).iter_rows(named=True)) + (", ..." if small.height > 4 else "")
    scale = smallest_adequate_scale(config, municipalities)
    remedy = (f"raise population_scale (every municipality has {MIN_CASEWORKERS} from about {scale:.2g})" if scale <= 1 else
              "raise population_scale or leave the smallest out (municipalities.names or sizes): some are small even at full size")
    message = (f"{small.height} of {municipalities.height} municipalities are too small to mean much at "
               f"municipalities.population_scale = {config.municipalities.population_scale:g}: they start with fewer than "
               f"{MIN_CASEWORKERS} caseworkers or a caseload more than {CASELOAD_TOLERANCE:.0%} from the intended one: {shown}; "
               f"read their figures as noise, or {remedy}")
    warnings.warn_explicit(message, SmallMunicipalityWarning, filename=config.origin, lineno=0, registry=_WARNED)


CHECKS = [Check(("municipalities.preset", "municipalities.names", "municipalities.sizes", "network.council_peers",
                 "council.strategy_by_municipality", "council.initial_caseload_by_municipality"), _municipalities_problem)]


def named_strategies(assigned: list[str], municipalities: pl.DataFrame) -> list[str]:
    """Each municipality's strategy: ``assigned`` (by turn), with the strategies set by name put in."""
    return [own if named is None else named for own, named in zip(assigned, municipalities["strategy"].to_list())]
