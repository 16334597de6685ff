"""Who is simulated (the population rule): municipality sizes, the attributes of citizens
entering a jobcenter, and the clients at the start.

Three names, three things: this module *declares* the population (parameters, columns,
outputs); ``model.citizens`` is the *table* of the citizens in contact with a jobcenter now
(:class:`abm.state.CitizenState`); ``model.people`` moves them in, out and between
municipalities (:class:`abm.people.LifeCycle`). Target groups are coded 0 = job-ready, 1 = activity-ready, 2 = resource programme
(``GROUPS``). All draws take an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from abm.declarations import Column, Output, Rule, Weighted, ratio
from abm.parameters import Check, Param

GROUPS = ("job_ready", "activity_ready", "resource")

# Denmark's four largest municipalities and four small island municipalities, inhabitants
# (Statistics Denmark, order of magnitude 2023); the rest follow a lognormal fitted to the
# median (~43,000) and total (~5.9 million) of Danish municipalities.
_LARGEST = (653_000, 367_000, 222_000, 207_000)
_SMALLEST = (1_800, 2_700, 3_300, 3_700)
DENMARK_MUNICIPALITIES = 98

MUNICIPALITY_PARAMS = {
    "preset": Param(
        "synthetic", "",
        "Which municipalities: 'synthetic' (Denmark-like sizes from a lognormal, named Synthetic 01 ...) or "
        "'denmark' (Denmark's real municipalities by name, code, region and population).",
        "Statistics Denmark FOLK1AM, 1 January 2024 (abm/data/municipalities.md)", choices=("synthetic", "denmark"),
    ),
    "names": Param(
        [], "", "With preset 'denmark': the municipalities to simulate, by name (e.g. [\"København\", \"Læsø\"]); "
        "empty = count of them, taken evenly across sizes.", "Statistics Denmark FOLK1AM, 1 January 2024 (abm/data/municipalities.csv)", kind="list[str]",
    ),
    "count": Param(
        12, "municipalities",
        "How many municipalities; taken evenly across the Danish size distribution (98 = all).",
        "public figure: 98 municipalities since the 2007 municipal reform", low=1, high=DENMARK_MUNICIPALITIES,
    ),
    "sizes": Param(
        [], "inhabitants",
        "Explicit inhabitants per municipality; when given, overrides count.",
        "assumption", low=1, high=10_000_000, kind="list[int]",
    ),
    "population_scale": Param(
        1.0, "x", "Scales every municipality's inhabitants (0.1 = a tenth of Denmark).", "assumption",
        low=0.0001, high=10.0,
    ),
}

PARAMS = {
    "client_share": Param(
        0.051, "share of inhabitants",
        "Citizens in contact with the jobcenter at the start (about 300,000 of 5.9 million).",
        "order of magnitude of public figures that overlap: 121,300 on cash-benefit-type benefits (Statistics Denmark, September 2019), 76,700 full-time on sickness benefit (Statistics Denmark, 2023), about 100,000 'not ready for the labour market' (MODEL.md base rates, publisher not named); unused with the default stationary start",
        low=0.0, high=0.5,
    ),
    "stock_shares": Param(
        [0.57, 0.29, 0.14], "shares",
        "Initial clients by target group: job-ready, activity-ready, resource programme.",
        "assumption: the stock the default flows keep at ~100 cases per caseworker (~43% not job-ready), read off the model, not measured; unused with the default stationary start",
        low=0.0, high=1.0, kind="list[float]", length=len(GROUPS), total=1.0,
    ),
    "health_mean": Param(
        [0.85, 0.50, 0.35], "0-1", "Mean health (1 = well) by target group.",
        "assumption: activity-ready 'often with health problems' (MODEL.md)", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "distance_mean": Param(
        [0.20, 0.60, 0.80], "0-1", "Mean distance from the labour market by target group.",
        "assumption", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "concentration": Param(
        8.0, "", "Beta concentration of health, distance and trust draws (higher = less spread).", "assumption",
        low=0.5, high=1000.0,
    ),
    "trust_initial": Param(0.5, "0-1", "Mean trust in the jobcenter of a new client.", "assumption", low=0.0, high=1.0),
    "long_history_share": Param(
        [0.10, 0.63, 0.80], "shares",
        "Share per group who spent at least 80% of the last 5 years on benefits.",
        "public figure for activity-ready clients: 63% spent at least 80% of the last 5 years on benefits (MODEL.md base rates, publisher not named); job-ready and resource shares: assumption", low=0.0, high=1.0, kind="list[float]", length=len(GROUPS),
    ),
    "protest_threshold_mean": Param(
        1.2, "grievance", "Mean personal protest threshold (Granovetter).",
        "assumption, set by hand so that protests are rare at ~100 cases and recur at 220 (the pattern of seeds 000, 003: weekly demonstrations of sick citizens at overloaded jobcenters; no measured magnitude)", low=0.0, high=10.0
    ),
    "protest_threshold_sd": Param(
        0.15, "grievance", "Spread of personal protest thresholds.", "assumption", low=0.0, high=5.0
    ),
    "history_weeks": Param(
        260, "weeks", "Window of the benefit history drawn for a new client (the last 5 years).",
        "the window of the public figure on activity-ready clients (63% on benefits at least 80% of the last 5 years; MODEL.md base rates)", low=1, high=5200,
    ),
    "long_history_weeks": Param(
        208, "weeks", "Weeks on benefits within that window that make a long history (80% of 5 years).",
        "the threshold of the same public figure: 80% of 5 years", low=0, high=5200,
    ),
    "start": Param(
        "stationary", "",
        "How the clients at the start are drawn: 'given' (client_share, stock_shares, initial_spell_mean) or 'stationary' (the stock the inflow and the exit hazards at council.initial_caseload keep: its size, groups, spells and clarification; client_share, stock_shares and initial_spell_mean are then unused).",
        "assumption: a steady status quo needs a settled start (with 'given', clients drift up ~36% over ten years)",
        choices=("given", "stationary"),
    ),
    "stationary_horizon_weeks": Param(
        1560, "weeks", "With start = 'stationary': entrants of up to this many weeks ago are followed (longer spells are cut off).",
        "assumption (30 years: with the exit out of the labour force, fewer than 1 in 2,000 job-ready entrants is still a client after 30 years; 100 years changed the stock by 0.02% and tripled the build time)", low=52, high=5200,
    ),
    "initial_spell_mean": Param(
        [20.0, 120.0, 150.0], "weeks",
        "Mean weeks already spent in the current spell by the clients at the start, by group (exponential).",
        "assumption (the burn-in settles the spells)", low=0.0, high=5200.0, kind="list[float]", length=len(GROUPS),
    ),
}

CITIZEN_STATE = {
    "active": Column(bool, False, "whether someone occupies this slot now", agent="hidden"),
    "person": Column(np.int64, -1, "unique person id, kept across migration", agent="hidden"),
    "group": Column(np.int8, 0, "target group: 0 job-ready, 1 activity-ready, 2 resource programme (changed by the clarification track)"),
    "health_base": Column(np.float64, 1.0, "health the citizen recovers toward, 0-1", agent="write", low=0.0, high=1.0),
    "distance": Column(np.float64, 0.0, "distance from the labour market, 0-1 (its effect on exits follows)", agent="write",
                       low=0.0, high=1.0),
    "spell": Column(np.int32, 0, "weeks in the current spell", agent="write", low=0),
    "benefit_weeks": Column(np.int32, 0, "weeks on benefits in the last years, incl. this spell", agent="write", low=0),
}

OUTPUTS = (
    Output("inhabitants", "int", "inhabitants", "the municipality's inhabitants", measure=lambda model: model.inhabitants),
    Output("clients", "int", "citizens",
           "citizens on benefits at the end of the week (a year's `clients` summed / 52 = full-year unemployed)",
           measure=lambda model: model.census.clients),
    *(Output(f"clients_{name}", "int", "citizens", f"of them, {label}", measure=lambda model, g=g: model.census.by_group[:, g])
      for g, (name, label) in enumerate(zip(GROUPS, ("job-ready", "activity-ready", "in a resource programme")))),
    Output("spell_mean", "float", "weeks", "mean weeks in the ongoing spells", national=Weighted("clients"),
           measure=lambda model: ratio(model.census.spell, model.census.clients)),
    Output("spell_median", "float", "weeks", "median weeks in the ongoing spells", national=None,
           measure=lambda model: model.census.median_spell()),
)


def municipality_count(config) -> int:
    """How many municipalities a config has (``names`` or ``sizes`` when given, else ``count``)."""
    p_muni = config.municipalities
    return len(p_muni.names) or len(p_muni.sizes) or p_muni.count


def _history_problem(config) -> str | None:
    """A long history is a number of weeks within the history window, so it cannot be longer."""
    p = config.population
    if p.long_history_weeks > p.history_weeks:
        return (f"population.long_history_weeks = {p.long_history_weeks} is longer than population.history_weeks = "
                f"{p.history_weeks}: a long history is counted within that window, so it must be at most as long")
    return None


CHECKS = [Check(("population.long_history_weeks", "population.history_weeks"), _history_problem)]


def _start(model, start) -> None:
    """The clients at the start take their slots (``abm.people.LifeCycle.start``)."""
    model.people.start(start.clients, start.stock)


RULE = Rule("population", params={"municipalities": MUNICIPALITY_PARAMS, "population": PARAMS}, checks=tuple(CHECKS),
            citizen_state=CITIZEN_STATE, outputs=OUTPUTS, start=_start)


def municipality_sizes(p_muni) -> np.ndarray:
    """Inhabitants per municipality (after scaling), Denmark-like unless sizes are given."""
    if p_muni.sizes:
        base = np.asarray(p_muni.sizes, dtype=float)
    else:
        base = denmark_sizes()
        if p_muni.count < DENMARK_MUNICIPALITIES:
            picks = np.round(np.linspace(0, DENMARK_MUNICIPALITIES - 1, p_muni.count)).astype(int)
            base = base[picks] if p_muni.count > 1 else np.array([float(np.median(base))])
    return np.maximum(np.round(base * p_muni.population_scale), 1).astype(np.int64)


def denmark_sizes() -> np.ndarray:
    """98 municipality sizes, smallest first; deterministic (no random draw)."""
    quantiles = (np.arange(DENMARK_MUNICIPALITIES) + 0.5) / DENMARK_MUNICIPALITIES
    sizes = np.exp(np.log(43_000) + 0.8 * ndtri(quantiles))
    sizes[: len(_SMALLEST)] = _SMALLEST
    sizes[-len(_LARGEST):] = _LARGEST[::-1]
    return np.round(sizes)


def beta_draw(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    """Beta draws with the given means (clipped away from 0 and 1) and concentration."""
    mean = np.clip(mean, 0.01, 0.99)
    return rng.beta(mean * concentration, (1 - mean) * concentration)


def group_shares(shares: list[float]) -> np.ndarray:
    """The shares of the target groups, adding up to 1 (all job-ready when every share is 0)."""
    weights = np.asarray(shares, dtype=float)
    total = weights.sum()
    return weights / total if total > 0 else np.array([1.0, 0.0, 0.0])


def draw_groups(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    cumulative = np.cumsum(group_shares(shares))
    return np.searchsorted(cumulative, rng.random(n), side="right").clip(0, 2).astype(np.int8)


def draw_usual_health(rng: np.random.Generator, params, groups: np.ndarray) -> np.ndarray:
    """Entrants' usual health, by group (read by the exit hazards, as is ``draw_distance``)."""
    p = params.population
    return beta_draw(rng, np.asarray(p.health_mean)[groups], p.concentration)


def draw_distance(rng: np.random.Generator, params, groups: np.ndarray) -> np.ndarray:
    """Entrants' distance from the labour market, by group."""
    p = params.population
    return beta_draw(rng, np.asarray(p.distance_mean)[groups], p.concentration)


def new_citizen_attributes(rng: np.random.Generator, params, groups: np.ndarray,
                           exit_relevant: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Attributes of citizens of these target groups starting a spell (``params``: the run's
    config); ``exit_relevant``: their usual health and distance when drawn already (a
    stationary start draws those for many candidates and the rest for the people it keeps)."""
    p = params.population
    n = len(groups)
    health = draw_usual_health(rng, params, groups) if exit_relevant is None else exit_relevant["health_base"]
    long_history = rng.random(n) < np.asarray(p.long_history_share)[groups]
    history = np.where(
        long_history,
        rng.uniform(p.long_history_weeks, p.history_weeks, n),
        rng.uniform(0, p.long_history_weeks, n) * rng.random(n),
    )
    return {
        "group": groups,
        "health": health,
        "health_base": health.copy(),
        "distance": draw_distance(rng, params, groups) if exit_relevant is None else exit_relevant["distance"],
        "trust": beta_draw(rng, np.full(n, p.trust_initial), p.concentration),
        "threshold": np.maximum(rng.normal(p.protest_threshold_mean, p.protest_threshold_sd, n), 0.0),
        "benefit_weeks": np.round(history).astype(np.int32),
    }


def group_means(params) -> tuple[np.ndarray, np.ndarray]:
    """(mean health, mean distance from the labour market) by target group: the yardsticks
    exit hazards and decisions measure a citizen against."""
    p = params.population
    return np.asarray(p.health_mean, dtype=float), np.asarray(p.distance_mean, dtype=float)


def starts_stationary(params) -> bool:
    """Whether the clients at the start are the stock the flows keep (``start`` = "stationary")."""
    return params.population.start == "stationary"


def stationary_horizon(params) -> int:
    """How many weeks of entrants a stationary start follows (longer spells are cut off)."""
    return params.population.stationary_horizon_weeks


def given_clients(inhabitants: np.ndarray, params) -> np.ndarray:
    """Clients per municipality at a "given" start: a share ``client_share`` of the inhabitants."""
    return np.round(inhabitants * params.population.client_share).astype(np.int64)


def given_stock(rng: np.random.Generator, params, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Entry attributes and weeks already in the spell of ``n`` clients at a "given" start:
    groups by ``stock_shares``, spells exponential with the group's ``initial_spell_mean``."""
    p = params.population
    groups = draw_groups(rng, p.stock_shares, n)
    attributes = new_citizen_attributes(rng, params, groups)
    return attributes, rng.exponential(np.asarray(p.initial_spell_mean, dtype=float)[groups]).astype(np.int32)
