"""The SolaraViz page that ``abm viz`` serves (``solara run abm.viz.app``).

The command validates the config and passes it here through environment variables
(see :mod:`abm.viz`); run by hand, the page starts from the defaults.
Each browser session gets its own model, built from that config.
"""

from __future__ import annotations

import json
import os

import solara
from mesa.visualization import SolaraViz

from abm.config import defaults, load_config
from abm.viz import CONFIG_ENV, OVERRIDES_ENV
from abm.viz.components import views
from abm.viz.controls import VizModel, user_params

LARGE_MODEL = 50_000
"""Above this many citizen slots, plots are redrawn every few weeks while playing."""


def starting_config():
    """The config ``abm viz`` checked (its path and overrides from the environment)."""
    path = os.environ.get(CONFIG_ENV)
    overrides = json.loads(os.environ.get(OVERRIDES_ENV, "[]"))
    return load_config(path, overrides) if path else defaults()


CONFIG = starting_config()
PARAMS = user_params(CONFIG)


def _new_model() -> VizModel:
    """The model at the controls' starting values, as SolaraViz's Reset would build it."""
    return VizModel(CONFIG, **{key: widget.get("value") for key, widget in PARAMS.items() if key != "base"})


@solara.component
def Page():
    model = solara.use_memo(_new_model, dependencies=[])
    SolaraViz(
        model,
        components=views(),
        model_params=PARAMS,
        name=f"Jobcenters: {os.path.basename(CONFIG.origin)}",
        render_interval=1 if model.citizens.size < LARGE_MODEL else 5,  # Mesa's slider takes odd values
        play_interval=50,
    )
