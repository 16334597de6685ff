"""The people's life cycle: entering a jobcenter, leaving it, moving, and the slot table under them.

Citizens live in the slots of ``abm.state.CitizenState``, grouped in a block per
municipality. ``LifeCycle`` (``model.people``) is the one place that changes who is where: it finds free
slots (growing a block that is full), starts and ends spells, moves people between
municipalities, and packs the table when it has become sparse. Whenever slots are
renumbered, the social network and this week's friends follow (Mesa ``Citizen`` agents
find their person by id, ``abm.agents.Roster``, so they need nothing). When the model keeps
a spell log (``abm.spells``), entering, leaving and moving are written to it here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from abm import jobcenter, mechanisms, population
from abm.jobcenter import department
from abm.network import CitizenNetwork
from abm.rules import council, inflow, progress
from abm.state import CitizenState

SLOT_HEADROOM = 1.3  # slots per municipality at the start (and when packed), as a multiple of its clients
PACK_SAVING = 0.2  # the table is packed when that would drop at least this share of its slots


class LifeCycle:
    """The citizens' comings and goings (``model.people``): who is in contact with each
    municipality's jobcenter, and the slots they occupy.

    Builds ``model.citizens`` (the table of citizens, :class:`abm.state.CitizenState`) and
    ``model.network`` and keeps ``model.friend`` (this week's tie of each citizen) in step
    with them. The population's parameters and columns are declared in :mod:`abm.population`.
    """

    def __init__(self, model, clients: np.ndarray):
        self.model = model
        model.citizens = CitizenState(np.ceil(clients * SLOT_HEADROOM).astype(np.int64) + 16)
        model.network = CitizenNetwork(model.streams.build, model.params, model.citizens.slot_municipality)
        model.friend = np.arange(model.citizens.size)  # the tie each citizen talks to this week (see meet_friends)

    def start(self, clients: np.ndarray, stock: "Stock | None" = None) -> None:
        """The clients at the start, mid-spell: ``clients[m]`` in municipality m, drawn from
        the given shares and spell means, or ``stock`` (``stationary_stock``) as it is."""
        model = self.model
        rng = model.streams.build
        citizens = model.citizens
        slots = citizens.free_slots(clients)
        if stock is not None:
            self.enter(slots, stock.attributes)
            citizens.assign(slots, stock.progress)  # after entering: these replace what entry draws
            citizens.spell[slots] = stock.spell
            citizens.benefit_weeks[slots] += stock.spell
            return
        attributes, spell = population.given_stock(rng, model.params, len(slots))
        self.enter(slots, attributes)  # draws from the inflow stream only: the build stream's order is kept
        citizens.spell[slots] = spell

    # -- the life cycle -------------------------------------------------------------------

    def make_room(self, wanted: np.ndarray, carry: np.ndarray | None = None):
        """Free citizen slots, ``wanted[m]`` in municipality m (ordered by municipality).

        Grows the table when a municipality's block is full; ``carry`` (slot numbers the
        caller holds) is returned remapped beside the slots when given.
        """
        citizens = self.model.citizens
        slots = citizens.free_slots(wanted)
        if slots is None:
            # Growing copies every column and the network, so every municipality that is short
            # or low on room grows at once, by a quarter of its block: grows stay rare.
            free = citizens.free_count()
            block = citizens.block_sizes()
            low = (free < wanted) | (free - wanted < block // 8)
            old_to_new = self._reblocked(citizens.grow(np.where(low, np.maximum(wanted - free, 0) + block // 4 + 16, 0)))
            carry = None if carry is None else old_to_new[carry]
            slots = citizens.free_slots(wanted)
        return slots if carry is None else (slots, carry)

    def enter(self, slots: np.ndarray, attributes: dict[str, np.ndarray]) -> None:
        """New citizens take these free slots (free slots hold every column's fill value) and start a spell.

        The rules that own entry-dependent columns set them (their ``on_entry`` hooks, in
        registration order), drawing from the inflow stream.
        """
        model = self.model
        citizens = model.citizens
        citizens.assign(slots, attributes)
        citizens.occupy(slots)
        citizens.person[slots] = citizens.new_person_ids(len(slots))
        rng = model.streams.inflow
        for on_entry in mechanisms.on_entry():
            on_entry(model, slots, rng)
        if model.spell_log is not None:
            model.spell_log.entered(citizens.person[slots], citizens.slot_municipality[slots], citizens.unit[slots], citizens.group[slots])

    def leave(self, slots: np.ndarray, kind: np.ndarray) -> None:
        """Citizens end their spell by an exit of ``kind`` (codes of ``progress.EXITS``; the
        caller counts the exits by kind, this counts them by unit, and feeds the spell log)."""
        if len(slots) == 0:
            return
        model = self.model
        citizens = model.citizens
        if model.spell_log is not None:
            model.spell_log.ended(model.week, citizens.person[slots], citizens.spell[slots], citizens.slot_municipality[slots],
                                  citizens.group[slots], kind)
        model.tally.exits_by_department += np.bincount(
            department(citizens.slot_municipality[slots], citizens.unit[slots]), minlength=2 * model.n_municipalities
        )
        for on_exit in mechanisms.on_exit():
            on_exit(model, slots, kind)
        assigned = citizens.caseworker[slots]
        assigned = assigned[assigned >= 0]
        model.caseworkers.caseload -= np.bincount(assigned, minlength=model.caseworkers.size).astype(np.int32)
        citizens.reset(slots)

    def move(self, slots: np.ndarray, destination: np.ndarray) -> None:
        """Citizens move to another municipality, keeping their spell, with a new caseworker."""
        model = self.model
        order = np.argsort(destination, kind="stable")
        slots, destination = slots[order], destination[order]
        wanted = np.bincount(destination, minlength=model.n_municipalities)
        new_slots, slots = self.make_room(wanted, carry=slots)
        citizens = model.citizens
        jobcenter.detach(model, slots)
        if model.spell_log is not None:
            model.spell_log.moved(citizens.person[slots])
        model.tally.add("moved_out", citizens.slot_municipality[slots])
        model.tally.add("moved_in", citizens.slot_municipality[new_slots])
        citizens.relocate(slots, new_slots)
        citizens.unit[new_slots] = 0
        jobcenter.assign_waiting(model)

    def pack_when_sparse(self) -> None:
        """Shrink the citizens' table when that drops a good share of it (after the burn-in, say).

        The rules loop over occupied slots only, but empty ones between them still cost
        memory traffic. Packed, each municipality keeps ``SLOT_HEADROOM`` slots per client.
        """
        citizens = self.model.citizens
        sizes = np.ceil((citizens.block_sizes() - citizens.free_count()) * SLOT_HEADROOM).astype(np.int64) + 16
        if sizes.sum() <= (1 - PACK_SAVING) * citizens.size:
            self._reblocked(citizens.pack(sizes))

    def _reblocked(self, old_to_new: np.ndarray) -> np.ndarray:
        """The network and this week's friends follow the citizens to their new slots."""
        model = self.model
        citizens = model.citizens
        model.network.follow(model.streams.network, old_to_new, citizens.slot_municipality)
        model.friend = _moved_friends(model.friend, old_to_new, citizens.size)
        return old_to_new


class Stock(NamedTuple):
    """Clients to start from, ordered by municipality: their entry attributes, weeks in the
    spell and progress columns (see ``progress.stationary_clients``)."""

    municipality: np.ndarray
    attributes: dict[str, np.ndarray]
    spell: np.ndarray
    progress: dict[str, np.ndarray]


def starting_clients(model) -> tuple[np.ndarray, Stock | None]:
    """Clients per municipality at the start, and the stationary stock they are drawn from
    when ``population.start`` is "stationary" (else a share ``client_share`` of inhabitants)."""
    if population.starts_stationary(model.params):
        stock = stationary_stock(model)
        return np.bincount(stock.municipality, minlength=model.n_municipalities), stock
    return population.given_clients(model.inhabitants, model.params), None


def stationary_stock(model) -> Stock:
    """The clients the flows keep: everyone who entered in the last ``stationary_horizon_weeks``
    weeks at today's inflow and is still a client under the exit hazards, the pressing and the
    caseworkers' quits of the starting caseload (``council.initial_caseload``; its own random stream, ``steady_start``).

    Starting here, the status quo does not drift while the long clarification spells settle
    (MODEL.md: a steady status quo); its size is set by the inflow and the hazards, not by ``client_share``.

    Drawn, not followed week by week: of the entrants of ``horizon`` weeks, each would be in
    the stock with chance presence / ``horizon`` (presence: their expected weeks as a client,
    ``progress.stationary_clients``). Entrants are drawn at a rate ``bound`` / ``horizon``
    of the inflow instead, with ``bound`` an upper bound of their presence known before
    their attributes are (``progress.presence_bound``; in groups with a clarification
    track, the need is drawn with it, ``progress.need_proposal``), thinned as the bound
    tightens with each attribute drawn and finally kept with chance presence / bound: the
    same stock in distribution, with a fraction of the draws.
    """
    rng = model.streams.steady_start
    params = model.params
    weekly = inflow.expected_inflow(model)
    spells = progress.stationary_casework(model, council.starting_caseload(model), population.stationary_horizon(params))
    shares = inflow.entry_shares(params)
    tracked = progress.has_clarification(params)
    parts = []
    for g in range(len(shares)):
        # Entrants at a rate bounding every presence in the group, thinned as each bound tightens:
        # by the clarification need (groups with a clarification track), then by the usual health.
        if tracked[g]:
            proposal = progress.need_proposal(model, spells, g)
            rate = proposal.rate
        else:
            rate = progress.presence_bound(model, spells, np.array([g]), np.zeros(1))[0]
        municipality = np.repeat(np.arange(model.n_municipalities), rng.poisson(weekly * shares[g] * rate))
        group = np.full(len(municipality), g, dtype=np.int8)
        if tracked[g]:
            need, proposed = progress.proposed_needs(params, proposal, g, len(group), rng)
            bound = progress.presence_bound(model, spells, group, need)
            municipality, group, need, bound = _thinned(rng, bound / proposed, municipality, group, need, bound)
        else:
            need, bound = np.zeros(len(group)), np.full(len(group), rate)
        health = population.draw_usual_health(rng, params, group)
        tighter = progress.presence_bound(model, spells, group, need, health)
        parts.append(_thinned(rng, tighter / bound, municipality, group, need, health, tighter))
    municipality, group, need, health, bound = (np.concatenate(column) for column in zip(*parts))
    exit_relevant = {"health_base": health, "distance": population.draw_distance(rng, params, group)}
    kept, spell, state = progress.stationary_clients(model, rng, spells, {"group": group, **exit_relevant}, need, bound)
    order = np.argsort(municipality[kept], kind="stable")
    attributes = population.new_citizen_attributes(
        rng, params, group[kept][order], {name: column[kept][order] for name, column in exit_relevant.items()})
    attributes["group"] = state.pop("group")[order]
    return Stock(municipality[kept][order], attributes, spell[order], {name: column[order] for name, column in state.items()})


def _thinned(rng: np.random.Generator, chance: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """The rows kept, each with its ``chance``."""
    keep = rng.random(len(chance)) < chance
    return [column[keep] for column in columns]


def _moved_friends(friend: np.ndarray, old_to_new: np.ndarray, size: int) -> np.ndarray:
    """This week's friends in the new slots; a friend's dropped slot was empty, as is talking to oneself."""
    moved = np.arange(size)
    kept = np.flatnonzero(old_to_new >= 0)
    friend_now = old_to_new[friend[kept]]
    moved[old_to_new[kept]] = np.where(friend_now >= 0, friend_now, old_to_new[kept])
    return moved
