"""One look for every figure and the browser app: a colour-blind-safe palette with a fixed
colour, line style and marker per strategy, and readable strategy names.

The palette is Okabe and Ito's (2008), distinguishable with the common colour-vision
deficiencies. A strategy's colour follows its place in the registry (built-in strategies
first, in a fixed order, then those a user registers), so "invest" is the same blue in
``abm compare``'s and ``abm sweep``'s figures and in the browser app; a name not registered
in this process (from older results) gets a colour from a stable hash of its name.

Colours alone do not survive greyscale printing (Okabe-Ito's orange and sky blue are the
same grey), so each strategy also has a line style and a marker (:func:`strategy_style`):
the first six strategies differ in both, and every pair of the eight differs in at least one.
"""

from __future__ import annotations

import zlib

from abm import rules, strategies  # noqa: F401 (rules registers the built-in strategies: colours follow their order in every process)

OKABE_ITO = (
    "#000000",  # black: status_quo, the usual baseline
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#E69F00",  # orange (after the others: beside vermillion it reads as the same colour)
    "#F0E442",  # yellow (last: faint on white)
)
"""Okabe-Ito colours as hex, in the order strategies receive them."""


LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)), (0, (3, 1, 3, 1, 1, 1)))
"""Matplotlib dash patterns, in the order strategies receive them (solid, dashed, dash-dot, dotted, ...)."""

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Marker shapes, in the order strategies receive them."""


def _index(name: str) -> int:
    names = strategies.names()
    return names.index(name) if name in names else zlib.crc32(name.encode())


def strategy_colour(name: str) -> str:
    """The hex colour of strategy ``name`` in every figure and the app."""
    return OKABE_ITO[_index(name) % len(OKABE_ITO)]


def strategy_style(name: str) -> dict:
    """Matplotlib keyword arguments for strategy ``name``'s line: colour, line style and marker
    (with open markers, so that overlapping lines stay readable)."""
    index = _index(name)
    return {"color": OKABE_ITO[index % len(OKABE_ITO)], "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
            "marker": MARKERS[index % len(MARKERS)], "markerfacecolor": "white", "markeredgewidth": 1.1}


def strategy_label(name: str) -> str:
    """The readable name of strategy ``name`` ("Pilot then scale"), from the registry."""
    return strategies.label(name)


__all__ = ["LINE_STYLES", "MARKERS", "OKABE_ITO", "strategy_colour", "strategy_label", "strategy_style"]
