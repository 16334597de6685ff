"""The people's life cycle: entering a jobcenter, leaving it, moving, and the slot table under them.

Citizens live in the slots of ``abm.state.CitizenState``, grouped in a block per
municipality. ``Population`` is the one place that changes who is where: it finds free
slots (growing a block that is full), starts and ends spells, moves people between
municipalities, and packs the table when it has become sparse. Whenever slots are
renumbered, the social network and this week's friends follow (Mesa ``Citizen`` agents
find their person by id, ``abm.agents.Roster``, so they need nothing). When the model keeps
a spell log (``abm.spells``), entering, leaving and moving are written to it here.
"""

from __future__ import annotations

import numpy as np

from abm import jobcenter
from abm.jobcenter import department
from abm.network import CitizenNetwork
from abm.population import draw_groups, new_citizen_attributes
from abm.rules import council, progress
from abm.state import CitizenState

SLOT_HEADROOM = 1.3  # slots per municipality at the start (and when packed), as a multiple of its clients
PACK_SAVING = 0.2  # the table is packed when that would drop at least this share of its slots


class Population:
    """Who is in contact with each municipality's jobcenter, and the slots they occupy.

    Builds ``model.citizens`` and ``model.network`` and keeps ``model.friend`` (this
    week's tie of each citizen) in step with them.
    """

    def __init__(self, model, clients: np.ndarray):
        self.model = model
        model.citizens = CitizenState(np.ceil(clients * SLOT_HEADROOM).astype(np.int64) + 16)
        model.network = CitizenNetwork(model.streams.build, model.params.network, model.citizens.slot_municipality)
        model.friend = np.arange(model.citizens.size)  # the tie each citizen talks to this week (see meet_friends)

    def start(self, clients: np.ndarray) -> None:
        """The clients at the start, mid-spell: ``clients[m]`` in municipality m."""
        model = self.model
        p = model.params.population
        rng = model.streams.build
        citizens = model.citizens
        slots = citizens.free_slots(clients)
        groups = draw_groups(rng, p.stock_shares, len(slots))
        self.enter(slots, new_citizen_attributes(rng, p, groups))
        citizens.spell[slots] = rng.exponential(np.asarray(p.initial_spell_mean, dtype=float)[groups]).astype(np.int32)
        progress.init(model, slots)

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

        The mechanisms that own entry-dependent columns set them, drawing from the inflow stream.
        """
        model = self.model
        citizens = model.citizens
        citizens.assign(slots, attributes)
        citizens.occupy(slots)
        citizens.person[slots] = citizens.new_person_ids(len(slots))
        rng = model.streams.inflow
        progress.on_entry(model, slots, rng)
        citizens.unit[slots] = council.entering_unit(model, slots, rng)
        if model.spell_log is not None:
            model.spell_log.entered(citizens.person[slots], citizens.slot_municipality[slots], citizens.unit[slots], citizens.group[slots])

    def leave(self, slots: np.ndarray, kind: np.ndarray | None = None) -> None:
        """Citizens end their spell (the caller counts the kind of exit; ``kind``, its codes, feeds the spell log)."""
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


def _moved_friends(friend: np.ndarray, old_to_new: np.ndarray, size: int) -> np.ndarray:
    """This week's friends in the new slots; a friend's dropped slot was empty, as is talking to oneself."""
    moved = np.arange(size)
    kept = np.flatnonzero(old_to_new >= 0)
    friend_now = old_to_new[friend[kept]]
    moved[old_to_new[kept]] = np.where(friend_now >= 0, friend_now, old_to_new[kept])
    return moved
