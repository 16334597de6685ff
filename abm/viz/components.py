"""The browser app's views: time series, caseloads, one municipality's network, key figures.

Every view reads the model's live columns (``model.record``, ``model.citizens``,
``model.caseworkers``) and draws with matplotlib, whose figures Solara sends as PNGs.
Views of citizens draw a sample, so a Denmark-size model (hundreds of thousands of
citizens) renders as fast as a small one. Colours stand for strategies throughout.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

import matplotlib
import networkx as nx
import numpy as np
import polars as pl
import solara
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from mesa.visualization.utils import update_counter

from abm import strategies
from abm.metrics import TURNOVER_WINDOW, national
from abm.viz.controls import settings_summary

NETWORK_NODES = 300
"""At most this many citizens are drawn in the network view."""

TRUST_COLOURS = matplotlib.colormaps["RdYlGn"]
FIGURE_SIZE = (5.6, 3.4)
"""Inches at 100 dpi: fits one cell of SolaraViz's grid (half the width, about 390 px high)."""


def strategy_colour(name: str) -> tuple[float, float, float]:
    """A strategy's colour, fixed by its place in the registry; black for anything else ("all")."""
    order = strategies.names()
    return matplotlib.colormaps["tab10"].colors[order.index(name) % 10] if name in order else (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Series:
    """An outcome over time for a group of municipalities: its national aggregate over the
    group (``metrics.national``, so municipalities add up to strategies as they add up to
    the country), divided by ``per``'s (another output) and times ``scale`` if given.

    ``window`` > 1 smooths a ratio over that many weeks (both its sums), for rare events
    such as quits.
    """

    title: str
    unit: str
    output: str
    per: str | None = None
    scale: float = 1.0
    window: int = 1


SERIES = (
    Series("Trust in the jobcenter", "mean trust of clients (0-1)", "trust_mean"),
    Series("Caseworker turnover", f"quits per caseworker-year (past {TURNOVER_WINDOW} weeks)", "turnover_annualised", window=TURNOVER_WINDOW),
    Series("Protests", "protesters per 1,000 clients", "protesters", "clients", 1000.0),
    Series("Unemployment", "clients per 1,000 inhabitants", "clients", "inhabitants", 1000.0),
    Series("Net cost", "DKK per inhabitant per week", "net_cost", "inhabitants"),
)


def _weekly(model) -> pl.DataFrame:
    """The weekly table so far, made once per recorded week however many views ask."""
    key = (id(model), model.record.rows)
    if _WEEKLY.get("key") != key:
        _WEEKLY.update(key=key, frame=model.weekly())
    return _WEEKLY["frame"]


_WEEKLY: dict = {}


def series_table(model, series: Series, by: tuple[str, ...]) -> pl.DataFrame:
    """The series per group of ``by`` (e.g. ``("strategy",)``; ``()``: all together) and week: columns *by, week, value."""
    names = [series.output] if series.per is None else [series.output, series.per]
    totals = national(_weekly(model), by=(*by, "week"), names=names,
                      smooth={series.output: series.window} if series.window > 1 else None)
    value = pl.col(series.output) * series.scale
    if series.per is not None:
        value = pl.when(pl.col(series.per) > 0).then(value / pl.col(series.per))
    return totals.select(*by, "week", value.cast(pl.Float64).fill_null(np.nan).alias("value"))


def by_week(table: pl.DataFrame, key: str) -> dict:
    """A series table's values per group: key -> values by week."""
    return {group: frame.sort("week")["value"].to_numpy() for (group,), frame in table.group_by(key)}


def strategy_groups(model) -> list[tuple[str, np.ndarray]]:
    """(strategy, which municipalities follow it) for each strategy present."""
    return [(strategy.name, members) for strategy, members in model.councils.groups()]


def _figure(size: tuple[float, float] = FIGURE_SIZE) -> tuple[Figure, matplotlib.axes.Axes]:
    figure = Figure(figsize=size, dpi=100, layout="constrained")
    return figure, figure.subplots()


def _show(figure: Figure) -> None:
    solara.FigureMatplotlib(figure, format="png")


def time_series_view(series: Series):
    """A view of one outcome: a thin line per municipality, a thick one per strategy."""

    def view(model):
        figure, ax = _figure()
        weeks = np.arange(model.record.rows)
        names = model.councils.strategy_names()
        per_municipality = sorted(by_week(series_table(model, series, ("municipality",)), "municipality").items())
        lines = [np.column_stack([weeks, values]) for _, values in per_municipality]
        colours = [strategy_colour(names[m]) for m, _ in per_municipality]
        ax.add_collection(LineCollection(lines, colors=colours, linewidths=0.6, alpha=0.35))
        for strategy, values in sorted(by_week(series_table(model, series, ("strategy",)), "strategy").items()):
            ax.plot(weeks, values, color=strategy_colour(strategy), linewidth=2.2)
        ax.autoscale_view()
        ax.set_xlim(0, max(len(weeks) - 1, 1))
        ax.set_title(series.title, fontsize=11, loc="left")
        ax.set_ylabel(series.unit, fontsize=9)
        ax.set_xlabel("week", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        _show(figure)

    return view


def caseload_view(model):
    """How many clients each caseworker has now, stacked by the council's strategy."""
    figure, ax = _figure()
    staff = model.caseworkers
    rows = np.flatnonzero(staff.active)
    caseload, municipality = staff.caseload[rows], staff.municipality[rows]
    groups = strategy_groups(model)
    bins = np.linspace(0, max(int(caseload.max(initial=0)) + 1, 10), 40)
    ax.hist([caseload[members[municipality]] for _, members in groups], bins=bins, stacked=True,
            color=[strategy_colour(name) for name, _ in groups])
    target = model.config.council.caseload_target
    ax.axvline(target, color="black", linestyle="--", linewidth=1, label=f"caseload target {target:g}")
    ax.set_title(f"Caseload of {len(rows):,} caseworkers, week {model.week}", fontsize=11, loc="left")
    ax.set_xlabel("clients per caseworker", fontsize=9)
    ax.set_ylabel("caseworkers", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _show(figure)


def network_sample(model, municipality: int) -> np.ndarray:
    """The municipality's first slots, at most ``NETWORK_NODES``: a contiguous window.

    Ties run mostly between neighbouring slots (a small world on a ring), so a window
    keeps the structure that a random sample of a large municipality would lose; slots
    are stable, so the same people stay in view from week to week.
    """
    block = np.flatnonzero(model.citizens.slot_municipality == municipality)
    return block[:NETWORK_NODES]


def _municipality_label(model, m: int) -> str:
    return f"{m}: {model.inhabitants[m]:,} inhabitants, {model.councils.strategy_names()[m]}"


@solara.component
def NetworkView(model):
    """One chosen municipality's citizens and their ties, coloured by trust."""
    update_counter.get()  # redraw after every step, like the views SolaraViz wraps itself
    chosen, set_chosen = solara.use_state(model.n_municipalities // 2)
    municipality = min(chosen, model.n_municipalities - 1)
    slots = network_sample(model, municipality)
    ties = model.network.ties
    layout = solara.use_memo(
        lambda: nx.spring_layout(model.network.to_networkx(slots), seed=1, iterations=40),
        dependencies=[id(model), municipality, id(ties)],
    )
    citizens = model.citizens
    present = slots[citizens.active[slots]]
    graph = model.network.to_networkx(present)
    figure, ax = _figure((FIGURE_SIZE[0], FIGURE_SIZE[1] - 0.6))  # room for the municipality menu
    xy = np.array([layout[int(s)] for s in present]).reshape(-1, 2)
    edges = [(layout[a], layout[b]) for a, b in graph.edges()]
    ax.add_collection(LineCollection(edges, colors="0.6", linewidths=0.4, alpha=0.6))
    dots = ax.scatter(xy[:, 0], xy[:, 1], c=citizens.trust[present], cmap=TRUST_COLOURS, vmin=0, vmax=1, s=22,
                      edgecolors="0.3", linewidths=0.3, zorder=2)
    protesting = citizens.protesting[present]
    ax.scatter(xy[protesting, 0], xy[protesting, 1], s=70, facecolors="none", edgecolors="black", linewidths=1.4,
               zorder=3, label=f"protesting ({protesting.sum()})")
    figure.colorbar(dots, ax=ax, label="trust", shrink=0.8)
    clients = int((citizens.active & (citizens.slot_municipality == municipality)).sum())
    ax.set_title(f"Municipality {municipality}, week {model.week}: {len(present)} of {clients:,} clients",
                 fontsize=11, loc="left")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_axis_off()
    with solara.Column(gap="0px"):
        solara.Select(
            "Municipality shown",
            value=_municipality_label(model, municipality),
            values=[_municipality_label(model, m) for m in range(model.n_municipalities)],
            on_value=lambda label: set_chosen(int(label.split(":")[0])),
        )
        _show(figure)


FIGURES = (
    (Series("Clients", "", "clients"), "{:,.0f}"),
    (Series("Trust", "", "trust_mean"), "{:.3f}"),
    (Series("Protesters", "", "protesters"), "{:,.0f}"),
    (Series("Caseworkers", "", "caseworkers"), "{:,.0f}"),
    (Series("Caseload", "", "caseload_mean"), "{:.1f}"),
    (Series(f"Turnover / yr ({TURNOVER_WINDOW} wk)", "", "turnover_annualised", window=TURNOVER_WINDOW), "{:.1%}"),
    (Series("Net cost (M DKK / week)", "", "net_cost", scale=1e-6), "{:,.2f}"),
)
"""The key figures of the week (with their format), totalled like the time series."""


def key_figures_view(model):
    """This week's figures per strategy (and all together), under the settings of the run."""
    settings = " · ".join(f"{label}: <b>{html.escape(value)}</b>" for label, value in settings_summary(model.config))
    parts = [f"<h3 style='margin:0'>Week {model.week} of {model.config.run.weeks}</h3>",
             f"<p style='font-size:11px;color:#555;margin:2px 0'>{settings}</p>",
             "<p style='font-size:11px;color:#555;margin:2px 0'>Colours: strategies. Plots: a thin line per "
             "municipality, a thick line per strategy (its municipalities together).</p>"]
    parts += [f"<p style='color:#b00020;margin:2px 0'>Not applied: {html.escape(problem)}</p>" for problem in model.control_problems]
    if model.record.rows == 0:
        parts.append("<p>No week simulated yet: press <b>Step</b> or <b>▶</b>.</p>")
    else:
        groups = strategy_groups(model)
        columns = [name for name, _ in groups] + (["all"] if len(groups) > 1 else [])
        rows = [["Municipalities", *(str(members.sum()) for _, members in groups)]
                + ([str(model.n_municipalities)] if len(groups) > 1 else [])]
        for series, form in FIGURES:
            latest = by_week(series_table(model, series, ("strategy",)), "strategy")
            values = [latest[name][-1] for name, _ in groups]
            if len(groups) > 1:
                values.append(series_table(model, series, ())["value"][-1])
            rows.append([series.title, *(form.format(value) for value in values)])
        parts.append(_html_table(["", *columns], rows))
    solara.HTML(tag="div", unsafe_innerHTML="".join(parts), style="padding: 2px 8px; font-size: 12px; overflow-x: auto")


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain HTML table (Solara's Markdown would fetch KaTeX from the internet).

    Strategy columns are headed in their colour; underscores become spaces so they wrap.
    """
    cell = "padding:1px 6px;border-bottom:1px solid #ddd;text-align:right"
    head = "".join(
        f"<th style='{cell};vertical-align:bottom;color:{matplotlib.colors.to_hex(strategy_colour(h))}'>"
        f"{html.escape(h.replace('_', ' '))}</th>"
        for h in header
    )
    body = "".join(
        "<tr>" + "".join(f"<td style='{cell}{';text-align:left' if i == 0 else ''}'>{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table style='border-collapse:collapse'><tr>{head}</tr>{body}</table>"


def views() -> list:
    """The SolaraViz components, in the order they are laid out (two per row)."""
    return [key_figures_view, *(time_series_view(s) for s in SERIES), caseload_view, NetworkView]
