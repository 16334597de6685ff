"""Councils: the budget cycle's headcount decision under each strategy, and in-office trials.

Every council follows a strategy, named in ``council.strategy`` or ``council.strategy_mix``
and looked up in the registry (:mod:`abm.strategies`); the built-in strategies are
defined at the end of this module, each in one place. Councils set the number of
positions per department (``headcount``) and the jobcenter fills or cuts to it.
Decisions come every ``budget_cycle_weeks`` from ``first_decision_week``; media pressure
and the strategies' bookkeeping are updated weekly.

An in-office trial (``trial_weeks`` > 0) uses the pilot's second unit: a randomised share
of clients is served in a treatment unit at ``trial_caseload`` while the ordinary unit,
the control, keeps the caseload it had, for a fixed period, with nothing scaled up.
"""

from __future__ import annotations

import numpy as np

from abm import jobcenter, strategies
from abm.declarations import Output, Weighted, When, per_municipality, ratio
from abm.denmark import named_strategies
from abm.parameters import Param
from abm.rules import costs, turnover
from abm.rules.progress import EXITS, OUT_OF_LABOUR_FORCE_ON
from abm.strategies import Decision, Strategy

OBJECTIVES = ("net_cost", "trust", "protests", "unemployment")
ORDINARY, PILOT = 0, 1
PILOT_NOT_STARTED, PILOT_RUNNING, PILOT_SCALED, PILOT_STOPPED = 0, 1, 2, 3
TRIAL_CLIENTS = ("both", "stock", "entrants")
TRIAL_STAFF = ("experienced", "new_hires")

PARAMS = {
    "strategy": Param(
        "status_quo", "", "Strategy of every council (unless strategy_mix is given): a registered strategy.", "MODEL.md",
        choices=strategies.names,
    ),
    "strategy_mix": Param(
        [], "", "Strategies given to the municipalities in turn (first to the first, ...); empty = all follow strategy.",
        "assumption", choices=strategies.names, kind="list[str]",
    ),
    "strategy_by_municipality": Param(
        {}, "", "Strategy of named municipalities, e.g. {\"Høje-Taastrup\" = \"invest\"}; overrides strategy and strategy_mix for them.",
        "assumption", choices=strategies.names, kind="table[str]",
    ),
    "initial_caseload": Param(
        100.0, "cases / caseworker", "Caseload councils start from (mean over municipalities).",
        "seeds 000-003: Copenhagen ~90 overall, ordinary departments 100-120", low=1.0, high=1_000_000.0,
    ),
    "initial_caseload_by_municipality": Param(
        {}, "cases / caseworker", "Starting caseload of named municipalities, e.g. {\"Høje-Taastrup\" = 120}; others start from initial_caseload.",
        "assumption", low=1.0, high=1_000_000.0, kind="table[float]",
    ),
    "initial_caseload_spread": Param(
        0.15, "share", "Municipalities start within +/- this share of the initial caseload.",
        "seed 001: caseloads differ between municipalities", low=0.0, high=0.9,
    ),
    "budget_cycle_weeks": Param(52, "weeks", "Weeks between headcount decisions.", "yearly municipal budget", low=1, high=5200),
    "first_decision_week": Param(0, "week", "Week of the first decision (strategies act from here).", "assumption", low=0, high=5200),
    "caseload_target": Param(
        55.0, "cases / caseworker", "Caseload the invest strategy hires to.",
        "seed 000: union's recommended maximum for activity-ready clients", low=1.0, high=1000.0,
    ),
    "min_caseload": Param(
        40.0, "cases / caseworker", "No council hires below this caseload, whatever its strategy.",
        "seed 000: lowest recommended maximum is 45 (resource programmes)", low=1.0, high=1000.0,
    ),
    "austerity_rate": Param(
        0.10, "share / year", "Share of positions the austerity strategy cuts each budget cycle.",
        "seeds 001, 004: resources taken as savings", low=0.0, high=1.0,
    ),
    "max_headcount_factor": Param(
        3.0, "x", "A council never pays for more than this multiple of its initial positions.", "assumption", low=0.0, high=100.0,
    ),
    "pilot_share": Param(
        0.2, "share", "Share of clients placed in the pilot unit.", "seed 002: Høje-Taastrup pilot for part of the citizens", low=0.0, high=1.0,
    ),
    "pilot_caseload": Param(60.0, "cases / caseworker", "Caseload of the pilot unit (and after scaling).", "seed 002: max 60 cases", low=1.0, high=1000.0),
    "pilot_evaluation_weeks": Param(78, "weeks", "Pilot length before it is evaluated.", "seed 002: result after 1.5 years", low=1, high=5200),
    "pilot_win_margin": Param(
        0.0, "share", "Pilot is scaled up if its exit rate beats the rest by more than this share (0 = if it wins).",
        "MODEL.md: scaled to everyone if it wins", low=-1.0, high=10.0,
    ),
    "trial_weeks": Param(
        0, "weeks", "Length of an in-office trial in every municipality not running pilot_then_scale (0 = no trial).",
        "Böheim, Eppel & Mahringer (2023): a randomised share of an office's clients served at a lower caseload", low=0, high=5200,
    ),
    "trial_start_week": Param(0, "week", "Week the trial starts (clients are randomised then).", "assumption", low=0, high=5200),
    "trial_share": Param(0.5, "share", "Share of clients randomised into the trial's treatment unit.", "assumption", low=0.0, high=1.0),
    "trial_caseload": Param(
        70.0, "cases / caseworker", "Caseload of the treatment unit (its positions follow its clients).",
        "Hainmueller et al. (2016): caseloads about 1:150 -> 1:70", low=1.0, high=1000.0,
    ),
    "trial_clients": Param(
        "both", "", "Who is randomised: the clients at the start (stock), only those entering during the trial, or both.",
        "Böheim, Eppel & Mahringer (2023) randomised both the stock and the entrants", choices=TRIAL_CLIENTS,
    ),
    "trial_staff": Param(
        "experienced", "",
        "Who staffs the treatment unit: caseworkers moved from the control unit (then new hires for the rest), or new hires only (the control's excess is laid off).",
        "assumption", choices=TRIAL_STAFF,
    ),
    "trial_merge_at_end": Param(
        False, "", "At the end, merge the treatment unit into the ordinary one (else its clients finish their spells there).",
        "assumption: no reassignment at the end unless asked",
    ),
    "responsive_threshold": Param(0.3, "media pressure", "Media pressure at which a responsive council hires.", "assumption", low=0.0, high=1.0),
    "responsive_step": Param(0.15, "share", "Share of positions a responsive council adds under pressure.", "assumption", low=0.0, high=10.0),
    "responsive_budget_factor": Param(
        1.1, "x", "A responsive council's staff budget relative to its initial staff cost; it cuts when over.", "assumption",
        low=0.0, high=100.0,
    ),
    "imitate_objective": Param(
        "net_cost", "", "What imitating councils compare peers on (per inhabitant, over the last cycle).",
        "seed 001: policy diffusion (two thirds cut caseloads)", choices=OBJECTIVES,
    ),
}

TRIAL_ON = When("council.trial_weeks > 0", lambda config: config.council.trial_weeks > 0)
_TRIAL_AND_OUT_ON = When(f"{TRIAL_ON.doc} and {OUT_OF_LABOUR_FORCE_ON.doc}",
                         lambda config: TRIAL_ON.holds(config) and OUT_OF_LABOUR_FORCE_ON.holds(config))
UNITS = {"control": ORDINARY, "trial": PILOT}
"""The trial's units by the prefix of their outputs: the ordinary unit is the control."""


def _unit_caseworkers(model, unit: int) -> np.ndarray:
    staff = model.caseworkers
    rows = np.flatnonzero(staff.active & (staff.unit == unit))
    return per_municipality(model, staff.municipality[rows])


def _unit_caseload(model, unit: int) -> np.ndarray:
    staff = model.caseworkers
    rows = np.flatnonzero(staff.active & (staff.unit == unit))
    return ratio(per_municipality(model, staff.municipality[rows], staff.caseload[rows]), _unit_caseworkers(model, unit))


def _unit_outputs(prefix: str, unit: int, label: str) -> tuple[Output, ...]:
    return (
        Output(f"{prefix}_clients", "int", "citizens", f"clients in the {label}",
               measure=lambda model: model.census.by_department()[:, unit], when=TRIAL_ON),
        *(Output(f"{prefix}_exits_{kind}", "int", "citizens", f"exits ({kind}) from the {label} this week",
                 when=_TRIAL_AND_OUT_ON if kind == "out_of_labour_force" else TRIAL_ON) for kind in EXITS),
        Output(f"{prefix}_caseworkers", "int", "caseworkers", f"caseworkers of the {label}",
               measure=lambda model: _unit_caseworkers(model, unit), when=TRIAL_ON),
        Output(f"{prefix}_caseload", "float", "cases / caseworker", f"realised caseload of the {label}",
               national=Weighted(f"{prefix}_caseworkers"), measure=lambda model: _unit_caseload(model, unit), when=TRIAL_ON),
        Output(f"{prefix}_net_cost", "float", "DKK", f"benefits and staff of the {label} this week",
               measure=lambda model: costs.unit_cost(model, unit), when=TRIAL_ON),
    )


OUTPUTS = (
    Output("clients_pilot", "int", "citizens", "clients in a pilot unit", measure=lambda model: model.census.pilot),
    Output("positions", "int", "positions", "positions the council pays for",
           measure=lambda model: model.councils.headcount.sum(axis=1)),
    Output("layoffs", "int", "caseworkers", "caseworkers laid off this week", summary=("per_year",)),
    *_unit_outputs("trial", PILOT, "trial's treatment unit"),
    *_unit_outputs("control", ORDINARY, "ordinary unit (the trial's control)"),
)


def count_exits_by_unit(model, municipality: np.ndarray, unit: np.ndarray, kind: np.ndarray) -> None:
    """The week's leavers (their municipality, unit and exit code) counted per unit and kind of exit."""
    if model.params.council.trial_weeks == 0:
        return  # not recorded
    for prefix, code in UNITS.items():
        in_unit = unit == code
        for exit_code, name in enumerate(EXITS):
            model.tally.add(f"{prefix}_exits_{name}", municipality[in_unit & (kind == exit_code)])


class CouncilState:
    """One row per municipality: the council's strategy, positions, pressure and scores."""

    def __init__(self, strategy_names: list[str], headcount: np.ndarray, starting_caseload: np.ndarray):
        n = len(strategy_names)
        chosen = {strategies.lookup(name).name for name in strategy_names}
        self.followed = tuple(s for s in strategies.registered().values() if s.name in chosen)  # in registry order
        codes = {s.name: code for code, s in enumerate(self.followed)}
        self.starting_caseload = starting_caseload
        self.strategy = np.array([codes[name] for name in strategy_names], dtype=np.int8)  # index into followed
        self.initial_headcount = headcount.astype(np.int64)
        self.headcount = np.zeros((n, 2), dtype=np.int64)  # positions: ordinary, pilot unit
        self.headcount[:, ORDINARY] = headcount
        self.media_pressure = np.zeros(n)
        self.pilot_phase = np.zeros(n, dtype=np.int8)
        self.pilot_exits = np.zeros((n, 2))
        self.pilot_client_weeks = np.zeros((n, 2))
        self.score = np.zeros(n)  # the imitation objective, summed over the current cycle
        self.control_caseload = np.zeros(n)  # the control unit's caseload when a trial started

    def strategy_names(self) -> list[str]:
        return [self.followed[s].name for s in self.strategy]

    def groups(self) -> list[tuple[Strategy, np.ndarray]]:
        """(strategy, which municipalities follow it) for each strategy followed, in registry order."""
        return [(strategy, self.strategy == code) for code, strategy in enumerate(self.followed)]


def starting_caseload(model) -> float:
    """The caseload the jobcenters start at nationally (``initial_caseload``, before any by name or spread)."""
    return model.params.council.initial_caseload


def init(model, clients: np.ndarray) -> None:
    """Councils at the start: their strategies, and positions for a starting caseload around
    each municipality's ``initial_caseload`` (the section's, or the one set by name)."""
    p = model.params.council
    n = model.n_municipalities
    spread = model.streams.build.uniform(1 - p.initial_caseload_spread, 1 + p.initial_caseload_spread, n)
    starting_caseload = model.municipalities["initial_caseload"].to_numpy() * spread
    strategy = named_strategies(assigned_strategies(p, n), model.municipalities)
    model.councils = CouncilState(strategy, np.ceil(clients / starting_caseload).astype(np.int64), starting_caseload)


def entering_unit(model, slots: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The unit of citizens entering these slots: a share ``pilot_share`` joins a running pilot,
    a share ``trial_share`` the treatment unit of a running trial that randomises entrants."""
    p = model.params.council
    municipality = model.citizens.slot_municipality[slots]
    draw = rng.random(len(slots))
    piloting = model.councils.pilot_phase[municipality] == PILOT_RUNNING
    unit = np.where(piloting & (draw < p.pilot_share), PILOT, ORDINARY)
    if p.trial_clients != "stock" and trial_running(model):
        unit = np.where(trial_municipalities(model)[municipality] & (draw < p.trial_share), PILOT, unit)
    return unit


def assigned_strategies(p, n_municipalities: int) -> list[str]:
    """Each municipality's strategy: ``strategy_mix`` in turn, else ``strategy`` for all."""
    names = p.strategy_mix or [p.strategy]
    return [names[m % len(names)] for m in range(n_municipalities)]


def is_decision_week(model) -> bool:
    p = model.params.council
    return model.week >= p.first_decision_week and (model.week - p.first_decision_week) % p.budget_cycle_weeks == 0


def trial_running(model) -> bool:
    p = model.params.council
    return p.trial_weeks > 0 and p.trial_start_week <= model.week < p.trial_start_week + p.trial_weeks


def trial_municipalities(model) -> np.ndarray:
    """Where a trial runs (a mask): every municipality whose council does not run its own pilot."""
    return np.array([name != "pilot_then_scale" for name in model.councils.strategy_names()], dtype=bool)


def apply(model) -> None:
    """Weekly bookkeeping; at the budget cycle, each council sets its headcount by its strategy;
    a trial holds its units' caseloads."""
    if model.week < 0:
        _hold_starting_caseload(model)
        return
    p = model.params.council
    for strategy, _ in model.councils.groups():
        if strategy.track is not None:
            strategy.track(model, strategy.declared(p))
    if is_decision_week(model):
        _decide(model)
    if p.trial_weeks > 0:
        _trial(model)


def _decide(model) -> None:
    """The budget cycle: each council sets its ordinary unit's positions by its strategy."""
    councils = model.councils
    p = model.params.council
    clients = model.citizens.census().by_department()
    positions = councils.headcount.copy()
    clients.setflags(write=False)  # every strategy decides on the same figures
    positions.setflags(write=False)
    cap = np.minimum(np.floor(p.max_headcount_factor * councils.initial_headcount), np.ceil(clients.sum(axis=1) / p.min_caseload))
    target = positions[:, ORDINARY].astype(float)
    for strategy, follows in councils.groups():
        decision = Decision(model, strategy.declared(p), follows, clients, positions, model.week - p.first_decision_week,
                            cap if strategy.capped else None)
        target[follows] = _checked_targets(strategy, strategy.decide(decision), follows)
    councils.headcount[:, ORDINARY] = np.clip(target, 0, None)
    _enforce_headcount(model)


def _checked_targets(strategy: Strategy, target, follows: np.ndarray) -> np.ndarray:
    """The positions a strategy decided for its councils, or an error naming the strategy."""
    target = np.asarray(target, dtype=float)
    if target.shape != follows.shape or not np.isfinite(target[follows]).all():
        raise ValueError(f"strategy {strategy.name!r} must return a finite number of positions per municipality, "
                         f"shape {follows.shape}; it returned shape {target.shape}: {target}")
    return target[follows]


def _hold_starting_caseload(model) -> None:
    """Burn-in: positions follow the clients (as last counted) so each council keeps its starting caseload."""
    councils = model.councils
    councils.headcount[:, ORDINARY] = np.ceil(model.census.clients / councils.starting_caseload)
    councils.initial_headcount = councils.headcount[:, ORDINARY].copy()
    _enforce_headcount(model)


def _start_pilots(model, municipalities: np.ndarray, p) -> None:
    """Move a share of clients into a pilot unit staffed at once at the pilot caseload."""
    citizens = model.citizens
    in_town = np.isin(citizens.slot_municipality, municipalities) & citizens.active
    chosen = np.flatnonzero(in_town & (model.streams.council.random(citizens.size) < p.pilot_share))
    jobcenter.detach(model, chosen)
    citizens.unit[chosen] = PILOT
    model.councils.pilot_phase[municipalities] = PILOT_RUNNING
    pilot_clients = np.bincount(citizens.slot_municipality[chosen], minlength=model.n_municipalities)
    model.councils.headcount[municipalities, PILOT] = np.ceil(pilot_clients[municipalities] / p.pilot_caseload)
    positions = model.councils.headcount[municipalities, PILOT]
    turnover.hire(model, np.repeat(municipalities, positions), np.full(positions.sum(), PILOT))
    jobcenter.assign_waiting(model)


def _merge_pilot_units(model, municipalities: np.ndarray) -> None:
    """End the pilot units: their clients and caseworkers join the ordinary department."""
    citizens, staff, councils = model.citizens, model.caseworkers, model.councils
    citizens.unit[np.isin(citizens.slot_municipality, municipalities)] = ORDINARY
    staff.unit[np.isin(staff.municipality, municipalities)] = ORDINARY
    councils.headcount[municipalities, ORDINARY] += councils.headcount[municipalities, PILOT]
    councils.headcount[municipalities, PILOT] = 0
    keep = ~np.isin(model.recruitment.municipality, municipalities) | (model.recruitment.unit == ORDINARY)
    model.recruitment.take(keep)
    turnover.rebalance(model, jobcenter.department(municipalities, ORDINARY))
    jobcenter.assign_waiting(model)


def _trial(model) -> None:
    """An in-office trial's week: it starts, holds both units' caseloads while it runs, then
    winds down (the treatment unit keeps its clients at its caseload until they leave, the
    control its caseload until then) or merges if asked. It overrides the council's strategy."""
    p = model.params.council
    towns = np.flatnonzero(trial_municipalities(model))
    end = p.trial_start_week + p.trial_weeks
    if model.week < p.trial_start_week or len(towns) == 0 or (model.week > end and p.trial_merge_at_end):
        return
    if model.week == p.trial_start_week:
        _start_trial(model, towns)
    if model.week == end and p.trial_merge_at_end:
        _merge_pilot_units(model, towns)
        return
    councils = model.councils
    clients = model.citizens.census().by_department()
    held = towns[(model.week < end) | (clients[towns, PILOT] > 0)]  # then the council's strategy sets it again
    councils.headcount[held, ORDINARY] = np.ceil(clients[held, ORDINARY] / councils.control_caseload[held])
    councils.headcount[towns, PILOT] = np.ceil(clients[towns, PILOT] / p.trial_caseload)
    _enforce_headcount(model)
    if model.week < end:  # the experiment keeps its unit staffed: openings are filled at once, not after recruiting
        staff = model.caseworkers
        filled = np.bincount(staff.municipality[staff.active & (staff.unit == PILOT)], minlength=model.n_municipalities)
        missing = np.maximum(councils.headcount[towns, PILOT] - filled[towns], 0)
        model.recruitment.take(keep=(model.recruitment.unit != PILOT) | ~np.isin(model.recruitment.municipality, towns))
        turnover.hire(model, np.repeat(towns, missing), np.full(missing.sum(), PILOT))
        jobcenter.assign_waiting(model)


def _start_trial(model, towns: np.ndarray) -> None:
    """Randomise clients into the treatment unit; with experienced staff, move the control's
    caseworkers beyond its positions there (``_trial`` then sets both units' positions and hires the rest)."""
    p = model.params.council
    citizens, staff, councils = model.citizens, model.caseworkers, model.councils
    before = citizens.census().by_department()[:, ORDINARY]
    ordinary_staff = np.bincount(staff.municipality[staff.active & (staff.unit == ORDINARY)], minlength=model.n_municipalities)
    councils.control_caseload[towns] = np.maximum(before[towns], 1) / np.maximum(ordinary_staff[towns], 1)
    if p.trial_clients != "entrants":
        in_town = np.isin(citizens.slot_municipality, towns) & citizens.active
        treat = in_town & (model.streams.trial.random(citizens.size) < p.trial_share)
        # Both arms are set: the week's entrants, randomised at entry, are randomised once more as stock.
        jobcenter.detach(model, np.flatnonzero(in_town & (treat != (citizens.unit == PILOT))))
        citizens.unit[in_town] = np.where(treat[in_town], PILOT, ORDINARY)
        if model.spell_log is not None:  # the log follows both arms of the stock from here
            stock = np.flatnonzero(in_town)
            model.spell_log.randomised(model.week, citizens.person[stock], citizens.unit[stock])
    treated = np.bincount(citizens.slot_municipality[citizens.active & (citizens.unit == PILOT)], minlength=model.n_municipalities)
    positions = np.ceil(treated / p.trial_caseload).astype(np.int64)
    control_positions = np.ceil((before - treated) / np.maximum(councils.control_caseload, 1e-9)).astype(np.int64)
    if p.trial_staff == "experienced":  # the control's caseworkers beyond its positions move to the treatment unit
        movers = np.minimum(np.maximum(ordinary_staff - control_positions, 0), positions)
        rows = np.flatnonzero(staff.active & (staff.unit == ORDINARY) & np.isin(staff.municipality, towns))
        order = np.lexsort((model.streams.trial.random(len(rows)), staff.municipality[rows]))
        rows = rows[order]
        rank = np.arange(len(rows)) - np.searchsorted(staff.municipality[rows], staff.municipality[rows])
        jobcenter.move_caseworkers(model, rows[rank < movers[staff.municipality[rows]]], PILOT)


def _enforce_headcount(model) -> None:
    """Cut to the new positions: cancel hires under way first, then lay off at random."""
    n_departments = jobcenter.department_count(model)
    positions = model.councils.headcount.ravel()
    staff, recruitment = model.caseworkers, model.recruitment
    filled = np.bincount(staff.department()[staff.active], minlength=n_departments)
    pending = recruitment.count(n_departments)
    excess = filled + pending - positions
    if not np.any(excess > 0):
        return
    department = jobcenter.department(recruitment.municipality, recruitment.unit)
    order = np.argsort(department, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.searchsorted(department[order], department[order])
    recruitment.take(keep=rank >= np.maximum(excess, 0)[department])
    excess = np.maximum(excess - pending, 0)
    rows = np.flatnonzero(staff.active)
    row_department = staff.department()[rows]
    order = np.lexsort((model.streams.council.random(len(rows)), row_department))
    rows, row_department = rows[order], row_department[order]
    rank = np.arange(len(rows)) - np.searchsorted(row_department, row_department)
    jobcenter.remove_caseworkers(model, rows[rank < excess[row_department]], "layoffs")
    jobcenter.assign_waiting(model)


# -- the built-in strategies: each one definition, registered by name -----------------------
# They decide in this order; each reads the figures as they were before any council acted.


def _keep(d: Decision) -> np.ndarray:
    return d.ordinary_positions


def _invest(d: Decision) -> np.ndarray:
    return d.capped(np.ceil(d.ordinary_clients / d.params.caseload_target))


def _cut(d: Decision) -> np.ndarray:
    return np.floor(d.ordinary_positions * (1 - d.params.austerity_rate))


def _pilot_then_scale(d: Decision) -> np.ndarray:
    """Start pilots, keep them staffed, evaluate them, then scale them up or stop them."""
    model, p, pilot, clients = d.model, d.params, d.follows, d.clients
    councils = model.councils
    phase = councils.pilot_phase
    starting = pilot & (phase == PILOT_NOT_STARTED)
    if starting.any():
        _start_pilots(model, np.flatnonzero(starting), p)
        clients = model.citizens.census().by_department()
    running = pilot & (phase == PILOT_RUNNING)
    councils.headcount[running, PILOT] = np.ceil(clients[running, PILOT] / p.pilot_caseload)
    if d.weeks_since_first_decision >= p.pilot_evaluation_weeks and running.any():
        rate = councils.pilot_exits / np.maximum(councils.pilot_client_weeks, 1)
        wins = running & (rate[:, PILOT] > rate[:, ORDINARY] * (1 + p.pilot_win_margin))
        phase[wins] = PILOT_SCALED
        phase[running & ~wins] = PILOT_STOPPED
        _merge_pilot_units(model, np.flatnonzero(running))
        clients = model.citizens.census().by_department()
    scaled = pilot & (phase == PILOT_SCALED)
    target = d.ordinary_positions  # a running or stopped pilot leaves the ordinary positions as they were
    target[scaled] = np.ceil(clients[scaled].sum(axis=1) / p.pilot_caseload)
    return d.capped(target)


def _track_pilots(model, p) -> None:
    """Weekly: the running pilots' exits and client-weeks by unit, for their evaluation."""
    councils = model.councils
    running = councils.pilot_phase == PILOT_RUNNING
    councils.pilot_client_weeks[running] += model.census.by_department()[running]
    councils.pilot_exits[running] += model.tally.exits_by_department.reshape(-1, 2)[running]


def _respond(d: Decision) -> np.ndarray:
    p, councils, ordinary = d.params, d.model.councils, d.ordinary_positions
    pressed = councils.media_pressure > p.responsive_threshold
    budget = np.floor(councils.initial_headcount * p.responsive_budget_factor)
    return np.where(pressed, d.capped(np.ceil(ordinary * (1 + p.responsive_step))), np.minimum(ordinary, budget))


def _imitate(d: Decision) -> np.ndarray:
    """Positions giving each council the caseload of its best-scoring peer (itself included)."""
    councils = d.model.councils
    clients = d.clients.sum(axis=1)
    caseload = np.maximum(clients, 1) / np.maximum(d.positions.sum(axis=1), 1)
    target = d.ordinary_positions
    for m, peers in enumerate(d.model.council_peers):
        group = np.append(peers, m)
        best = group[np.argmin(councils.score[group])]
        if best != m:
            target[m] = np.ceil(clients[m] / caseload[best])
    councils.score[:] = 0.0  # the next cycle is scored afresh
    return d.capped(target)


def _score(model, p) -> None:
    """Weekly: every council's imitation score (lower is better), from the week's report.

    Councils follow the figures of the week's report: the citizens as counted at the end
    of last week (``model.census``), this week's exits and protests.
    """
    councils, census = model.councils, model.census
    per_inhabitant = 1.0 / model.inhabitants
    if p.imitate_objective == "net_cost":
        councils.score += costs.week_cost(model, census)[2] * per_inhabitant
    elif p.imitate_objective == "trust":
        councils.score -= census.mean_trust()
    elif p.imitate_objective == "protests":
        councils.score += model.tally.values["protest_event"]
    else:
        councils.score += census.clients * per_inhabitant


for _strategy in (
    Strategy("status_quo", _keep, "keeps the positions it has"),
    Strategy("invest", _invest, "hires or cuts to ceil(ordinary clients / `caseload_target`)", ("council.caseload_target",), capped=True),
    Strategy("austerity", _cut, "cuts to floor(positions x (1 - `austerity_rate`))", ("council.austerity_rate",)),
    Strategy(
        "pilot_then_scale", _pilot_then_scale,
        "first decision: a share `pilot_share` of clients moves to a pilot unit staffed at once at `pilot_caseload` "
        "(extra positions), whose positions then follow its clients; at the first decision after "
        "`pilot_evaluation_weeks`, if the pilot's exit rate per client-week beats the ordinary unit's by more than "
        "`pilot_win_margin`, it is scaled up (everyone at `pilot_caseload` from then on), else stopped (back to the "
        "earlier positions); either way the units merge (Høje-Taastrup's pilot)",
        ("council.pilot_share", "council.pilot_caseload", "council.pilot_evaluation_weeks", "council.pilot_win_margin"),
        capped=True, track=_track_pilots,
    ),
    Strategy(
        "responsive", _respond,
        "under media pressure above `responsive_threshold`: adds `responsive_step` of its positions (up to the cap); "
        "otherwise cuts to its budget (`responsive_budget_factor` x initial positions) if above it",
        ("council.responsive_threshold", "council.responsive_step", "council.responsive_budget_factor"), capped=True,
    ),
    Strategy(
        "imitate", _imitate,
        "takes the caseload of the best-scoring council among its peers and itself (`imitate_objective` per "
        "inhabitant over the last cycle; policy diffusion)",
        ("council.imitate_objective",), capped=True, track=_score,
    ),
):
    strategies.register_built_in(_strategy)
