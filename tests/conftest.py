"""Shared test helpers: small, fast configs built from the real schema."""

from __future__ import annotations

import pytest

from abm.config import defaults


def small_config(**overrides):
    """A few small municipalities for a couple of years: seconds, not minutes."""
    values = {"municipalities.count": 4, "municipalities.population_scale": 0.05, "run.weeks": 104}
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    return defaults().with_overrides(values)


@pytest.fixture
def small():
    return small_config()
