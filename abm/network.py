"""Social ties between citizens and the councils' peer network.

Citizens' ties are a small-world graph (ring lattice with rewiring, Watts-Strogatz) inside
each municipality, with a share of ties to citizens of other municipalities. They are
built directly with numpy as a fixed number of ties per slot, because building a
300,000-node graph with networkx costs more than the whole build budget; ``to_networkx``
gives the networkx view for analysis and the browser. Ties belong to slots: a newcomer
who takes a free slot takes over its place in the network; when the table is packed,
ties to empty places are drawn anew (``CitizenNetwork.follow``).

The councils' peer network is small and built with networkx.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import polars as pl

from abm.compiled import kernel, slot
from abm.declarations import Rule
from abm.parameters import Check, Param
from abm.population import municipality_count

PARAMS = {
    "degree": Param(8, "ties", "Social ties per citizen.", "assumption", low=1, high=64),
    "rewire": Param(0.1, "probability", "Share of within-municipality ties rewired at random (small world).", "assumption", low=0.0, high=1.0),
    "cross_share": Param(
        0.05, "share", "Share of ties to citizens in other municipalities (comparisons, migration).",
        "assumption (seed 004: citizens compare with friends or relatives in other municipalities)", low=0.0, high=1.0,
    ),
    "council_degree": Param(4, "peers", "Peer councils each council watches (imitation).", "assumption", low=1, high=97),
    "council_rewire": Param(0.3, "probability", "Rewiring of the councils' peer ring (Watts-Strogatz).", "assumption", low=0.0, high=1.0),
    "council_peers": Param(
        "random", "", "Whom each council watches: 'random' (a small world), 'region' (every council of its region; "
        "needs municipalities.preset = 'denmark') or 'size' (the council_degree councils nearest in size).",
        "seed 001: policy diffusion among neighbours and similar municipalities (assumption)", choices=("random", "region", "size"),
    ),
}


def _council_ring_problem(config) -> str | None:
    """Watts-Strogatz joins each council to degree // 2 neighbours on either side: with a
    degree of 1 the ring has no ties and can never be connected (``council_network``)."""
    n = municipality_count(config)
    if config.network.council_peers == "random" and config.network.council_degree < 2 and n > 2:
        return (f"network.council_degree = {config.network.council_degree} is not allowed with {n} municipalities: "
                f"a connected peer network needs a degree >= 2 when there are more than 2 municipalities")
    return None


CHECKS = [Check(("network.council_degree", "network.council_peers", "municipalities.count", "municipalities.sizes",
                 "municipalities.names"), _council_ring_problem)]


def meet_friends(model) -> None:
    """Each citizen talks to one random tie this week (used by trust and migration)."""
    model.friend = model.network.random_tie(model.streams.network, model.citizens.occupied())


RULE = Rule("network", params={"network": PARAMS}, checks=tuple(CHECKS), apply=meet_friends)


class CitizenNetwork:
    """Ties as a ``(slots, degree)`` int32 array: ``ties[i, j]`` is citizen slot i's j-th tie.

    A citizen's ties sit side by side (one cache line), which is what the weekly friend
    draw and the protest rule read.
    """

    def __init__(self, rng: np.random.Generator, params, slot_municipality: np.ndarray):
        self.p = params.network
        self.ties = self._new_ties(rng, slot_municipality, np.arange(len(slot_municipality)))

    def _new_ties(self, rng, slot_municipality: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Ties for the given slots: ring neighbours in their block, some rewired or abroad."""
        starts, sizes = _blocks(slot_municipality)
        muni = slot_municipality[rows]
        start, size = starts[muni], sizes[muni]
        position = rows - start
        k = self.p.degree
        offsets = np.array([(j // 2 + 1) * (1 if j % 2 == 0 else -1) for j in range(k)])
        ties = start + (position[None, :] + offsets[:, None]) % size
        rewired = rng.random(ties.shape) < self.p.rewire
        ties = np.where(rewired, start + (rng.random(ties.shape) * size).astype(np.int64), ties)
        abroad = rng.random(ties.shape) < self.p.cross_share
        anywhere = (rng.random(ties.shape) * len(slot_municipality)).astype(np.int64)
        return np.where(abroad, anywhere, ties).T.astype(np.int32, order="C")

    def random_tie(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        """The friend each citizen talks to this week: one of their ties, at random.

        Drawn for the occupied slots ``rows``; an empty slot's friend is itself.
        """
        return _pick_ties(self.ties, rows, rng.random(len(rows)))

    def follow(self, rng, old_to_new: np.ndarray, slot_municipality: np.ndarray) -> None:
        """Follow the citizens' table when it grows or is packed (``old_to_new``, -1: slot dropped).

        Ties between kept slots are kept; new slots, and ties to dropped slots, are drawn anew.
        """
        ties = _remapped(self.ties, old_to_new, len(slot_municipality))
        redrawn = np.flatnonzero((ties < 0).any(axis=1))
        ties[redrawn] = np.where(ties[redrawn] < 0, self._new_ties(rng, slot_municipality, redrawn), ties[redrawn])
        self.ties = ties

    def to_networkx(self, slots: np.ndarray) -> nx.Graph:
        """An undirected networkx graph of the ties among ``slots`` (nodes are slot numbers)."""
        chosen = np.zeros(len(self.ties), dtype=bool)
        chosen[slots] = True
        graph = nx.Graph()
        graph.add_nodes_from(int(s) for s in slots)
        sources = np.repeat(slots, self.ties.shape[1])
        targets = self.ties[slots].ravel()
        keep = chosen[targets] & (sources != targets)
        graph.add_edges_from(zip(sources[keep].tolist(), targets[keep].tolist()))
        return graph


def council_network(rng: np.random.Generator, params, municipalities: pl.DataFrame) -> list[np.ndarray]:
    """Each council's peers, as ``council_peers`` says (``municipalities``: the run's ``region`` and ``inhabitants``).

    'random': a connected small world (everyone when there are few councils); 'region': the
    other councils of its region; 'size': the ``council_degree`` councils nearest in size
    (log inhabitants), ties to the lower index.
    """
    p = params.network
    n_municipalities = len(municipalities)
    if p.council_peers == "region":
        region = municipalities["region"].to_list()
        return [np.array([o for o in range(n_municipalities) if o != m and region[o] == region[m]], dtype=np.intp)
                for m in range(n_municipalities)]
    if p.council_peers == "size":
        return _nearest_in_size(np.log(municipalities["inhabitants"].to_numpy().astype(float)), p.council_degree)
    if n_municipalities <= p.council_degree + 1:
        graph = nx.complete_graph(n_municipalities)
    else:
        graph = nx.connected_watts_strogatz_graph(
            n_municipalities, p.council_degree, p.council_rewire, seed=int(rng.integers(2**31))
        )
    return [np.array(sorted(graph.neighbors(m)), dtype=np.intp) for m in range(n_municipalities)]


def _nearest_in_size(log_size: np.ndarray, degree: int) -> list[np.ndarray]:
    """For each council, the ``degree`` others nearest in log size (ties to the lower index)."""
    peers = []
    for m in range(len(log_size)):
        distance = np.abs(log_size - log_size[m])
        distance[m] = np.inf
        peers.append(np.sort(np.argsort(distance, kind="stable")[: min(degree, len(log_size) - 1)]).astype(np.intp))
    return peers


@kernel
def _pick_ties(ties, rows, draws):
    friend = np.arange(len(ties))
    width = ties.shape[1]
    for r in range(len(rows)):
        i = slot(rows[r])
        friend[i] = ties[i, slot(int(draws[r] * width))]  # (unsigned: see ``slot``)
    return friend


@kernel
def _remapped(ties, old_to_new, size):
    """The ties in a table of ``size`` slots where old slot i is now ``old_to_new[i]`` (-1: dropped).

    New slots' ties, and ties to dropped slots, are -1.
    """
    remapped = np.full((size, ties.shape[1]), -1, dtype=ties.dtype)
    for i in range(len(ties)):
        if old_to_new[i] >= 0:
            for j in range(ties.shape[1]):
                remapped[old_to_new[i], j] = old_to_new[ties[i, j]]
    return remapped


def _blocks(slot_municipality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.bincount(slot_municipality)
    return np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes
