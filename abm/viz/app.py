"""The page that ``abm viz`` serves (``solara run abm.viz.app``).

The command validates the config and passes it here through environment variables
(see :mod:`abm.viz`); run by hand, the page starts from the defaults.
Each browser session gets its own model, built from that config.

The page is laid out like Mesa's ``SolaraViz`` and uses its ``ModelController`` (Reset,
Play, Step), but draws its own sidebar and views: every slider shows its value, there is
no tab bar for a single page and no "Use Threads" box (Mesa's threaded drawing skips
weeks; drawing in the browser is fast enough without it).
"""

from __future__ import annotations

import json
import os

import solara
from mesa.visualization import Slider
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from abm.config import defaults, load_config
from abm.viz import CONFIG_ENV, OVERRIDES_ENV
from abm.viz.components import views
from abm.viz.controls import VizModel, compares_strategies, side_by_side, user_params

LARGE_MODEL = 50_000
"""Above this many citizen slots, Step and Play advance several weeks per redraw."""
LARGE_MODEL_WEEKS = 5


def starting_config():
    """The config ``abm viz`` checked (its path and overrides from the environment), with
    every strategy side by side if the file compares strategies (``configs/compare.toml``)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return defaults()
    config = load_config(path, json.loads(os.environ.get(OVERRIDES_ENV, "[]")))
    return side_by_side(config) if compares_strategies(path) else config


CONFIG = starting_config()
PARAMS = user_params(CONFIG)
STARTING_VALUES = {key: (widget.value if isinstance(widget, Slider) else widget["value"] if isinstance(widget, dict) else widget)
                   for key, widget in PARAMS.items()}
"""What Reset builds the model from: the fixed config (``base``) and each control's value."""
VIEWS = views()  # made once: a view made anew on every render would be redrawn from scratch


PAGE_CSS = """
.v-input__slider { margin-top: 6px; }
.v-input__slider .v-input__slot { flex-direction: column; align-items: stretch; }
.v-input__slider .v-label { white-space: normal; margin-bottom: 30px; }
.v-slider__thumb-label { font-size: 10px; }
.v-card__title { word-break: normal; overflow-wrap: normal; hyphens: none; }
"""
"""Slider labels above their slider, so long labels leave the slider its width; card titles
break between words only (Vuetify breaks them anywhere: "Re" "set")."""


def _new_model() -> VizModel:
    """The model at the controls' starting values, as Reset would build it."""
    return VizModel(**STARTING_VALUES)


@solara.component
def ParameterInput(key: str, widget, values: solara.Reactive[dict]):
    """One model control; sliders always show their value on the thumb."""

    def set_value(value):
        values.set({**values.value, key: value})

    value = values.value[key]
    if isinstance(widget, Slider):
        slider = solara.SliderFloat if widget.is_float_slider else solara.SliderInt
        slider(widget.label, value=value, min=widget.min, max=widget.max, step=widget.step, on_value=set_value,
               thumb_label="always")
    elif widget["type"] == "Select":
        solara.Select(widget["label"], value=value, values=widget["values"], on_value=set_value)
    else:
        solara.InputText(widget["label"], value=value, on_value=set_value)


@solara.component
def Page():
    model = solara.use_reactive(solara.use_memo(_new_model, dependencies=[]))
    values = solara.use_reactive(STARTING_VALUES)
    play_interval = solara.use_reactive(50)
    threads = solara.use_reactive(False)  # Mesa's threaded drawing skips weeks; the page keeps up without it
    weeks_per_step = solara.use_reactive(1 if model.value.citizens.size < LARGE_MODEL else LARGE_MODEL_WEEKS)
    solara.Style(PAGE_CSS)
    with solara.AppBar():
        solara.AppBarTitle(f"Jobcenters: {os.path.basename(CONFIG.origin)}")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            solara.SliderInt("Weeks per Step (and redraw)", value=weeks_per_step, min=1, max=52,
                             thumb_label="always")
            solara.SliderInt("Pause between weeks while playing (ms)", value=play_interval, min=0, max=1000, step=10,
                             thumb_label="always")
            ModelController(model, model_parameters=values, play_interval=play_interval, render_interval=weeks_per_step,
                            use_threads=threads)
        with solara.Card("Model parameters (applied on Reset)"):
            for key, widget in PARAMS.items():
                if key != "base":
                    ParameterInput(key, widget, values)
    Views(model.value)


@solara.component
def Views(model):
    """Every view, two to a row, redrawn together when the controller steps the model."""
    update = update_counter.get()
    with solara.ColumnsResponsive(12, large=6):
        for view in VIEWS:
            with solara.Card(margin=0):
                view(model, update)
