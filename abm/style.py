"""One look for every figure and the browser app: a colour-blind-safe palette with a fixed
colour per strategy, and readable strategy names.

The palette is Okabe and Ito's (2008), distinguishable with the common colour-vision
deficiencies. A strategy's colour follows its place in the registry (built-in strategies
first, in a fixed order, then those a user registers), so "invest" is the same blue in
``abm compare``'s and ``abm sweep``'s figures and in the browser app; a name not registered
in this process (from older results) gets a colour from a stable hash of its name.
"""

from __future__ import annotations

import zlib

from abm import strategies

OKABE_ITO = (
    "#000000",  # black: status_quo, the usual baseline
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow (last: faint on white)
)
"""Okabe-Ito colours as hex, in the order strategies receive them."""


def strategy_colour(name: str) -> str:
    """The hex colour of strategy ``name`` in every figure and the app."""
    names = strategies.names()
    index = names.index(name) if name in names else zlib.crc32(name.encode())
    return OKABE_ITO[index % len(OKABE_ITO)]


def strategy_label(name: str) -> str:
    """The readable name of strategy ``name`` ("Pilot then scale"), from the registry."""
    return strategies.label(name)


__all__ = ["OKABE_ITO", "strategy_colour", "strategy_label"]
