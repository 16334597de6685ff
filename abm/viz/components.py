"""The browser app's views: key figures, time series, a tile grid of the municipalities,
caseloads, one municipality's network, and a CSV download of what is shown.

Every view reads the model's live columns (``model.record``, ``model.citizens``,
``model.caseworkers``) and draws with ECharts (``solara.FigureEcharts``): the page gets
a small JSON description and draws it in the browser, instead of the server rendering a
PNG per view and week. ECharts comes with Solara's bundled assets (``solara-assets``), so
the page works without internet. Colours stand for strategies throughout.

Each view is a component called with the model and ``update``, the value of Mesa's update
counter (``mesa.visualization.utils.update_counter``): a new value redraws it. The page
reads the counter once for all views, so a Step is one render, not one per view.

The data side goes through a few functions (``series_figure``, ``strategy_groups``,
``shown_lines``), which add municipalities up by the outputs' declared national rules
(``Output.national``, as the summary and the DataCollector do); the charts only lay out
what they return. The x axis counts the weeks simulated: 0 is the start (the state the
burn-in left, which :class:`abm.viz.controls.VizModel` keeps), so every view has something
to show before the first Step; the recorded week ``w`` of ``weekly.parquet`` is drawn at ``w + 1``.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import matplotlib
import networkx as nx
import numpy as np
import polars as pl
import solara
import traitlets
from solara.components.echarts import EchartsWidget

from abm.declarations import National, Ratio
from abm.metrics import RECORDED, TURNOVER_WINDOW
from abm.simulate import OUTCOME_LABELS
from abm.style import strategy_colour
from abm.style import strategy_label as label
from abm.viz.controls import settings_summary

NETWORK_NODES = 300
"""At most this many citizens are drawn in the network view."""

TRUST_COLOURS = matplotlib.colormaps["RdYlGn"]
CHART_STYLE = {"style": "height: 340px; width: 100%"}
DIGITS = 5
WEEKS_SIMULATED = "weeks_simulated"
"""The x axis and the download's first column: 0 is the start, ``w`` the state after ``w`` weeks."""
"""Significant digits sent to the browser: a line's shape needs no more, and the page stays small."""


@dataclass(frozen=True)
class Series:
    """An outcome over time: a recorded output by ``name``, added up over municipalities as it
    declares; or, for a rate the weekly table does not hold, ``rule`` (a national rule over
    recorded outputs, e.g. ``Ratio("protesters", "clients", 1000.0)``) with ``name`` naming it.

    Its title is the label of the summary ``outcome`` it follows over time (``OUTCOME_LABELS``;
    default ``name``), its unit the output's declared unit (a rate's: its numerator's per its
    denominator), so an outcome's words are declared once. ``window`` > 1 sums the rule's parts
    over that many weeks; weeks before the first full window are left out (a window of one week
    of a small municipality reads as a 1,000% turnover). ``scale`` multiplies the figure for display.
    """

    name: str
    outcome: str = ""
    rule: National | None = None
    window: int = 1
    scale: float = 1.0

    @property
    def national(self) -> National:
        return self.rule or DECLARED[self.name].national

    @property
    def title(self) -> str:
        return OUTCOME_LABELS[self.outcome or self.name]

    @property
    def unit(self) -> str:
        if isinstance(self.rule, Ratio):
            numerator = self.rule.numerator if isinstance(self.rule.numerator, str) else self.rule.numerator[0]
            per = f"{self.rule.scale:,.0f} {self.rule.denominator}" if self.rule.scale != 1.0 \
                else self.rule.denominator.removesuffix("s")  # the model's denominators are plural counts: per client
            unit = f"{DECLARED[numerator].unit} per {per}"
        else:
            unit = DECLARED[self.name].unit
        return unit + (f" (past {self.window} weeks)" if self.window > 1 else "")


DECLARED = {output.name: output for output in RECORDED}

TURNOVER = Series("turnover_annualised", "turnover_annual", window=TURNOVER_WINDOW)
PROTESTERS = Ratio("protesters", "clients", 1000.0)
"""Protesters per 1,000 clients."""

SERIES = (
    Series("trust_mean"),
    TURNOVER,
    Series("protesters_per_1000_clients", "protesters_mean", PROTESTERS),
    Series("clients_per_1000_inhabitants", "full_year_unemployed", Ratio("clients", "inhabitants", 1000.0)),
    Series("net_cost_per_inhabitant", "net_cost_mdkk", Ratio("net_cost", "inhabitants")),
)
"""The time series shown (all rates, so municipalities of any size compare), and the tile grid's outcomes."""


# -- the data: one place that turns the record into what the views show ------------------


def strategy_groups(model) -> list[tuple[str, np.ndarray]]:
    """(strategy, which municipalities follow it) for each strategy present."""
    return [(strategy.name, members) for strategy, members in model.councils.groups()]


def so_far(model, name: str) -> np.ndarray:
    """A recorded output per week simulated and municipality: the start first (if the model
    keeps it, as the app's does), then each recorded week."""
    recorded = model.record.so_far(name)
    start = getattr(model, "start", None)
    return recorded if start is None else np.vstack([start[name][np.newaxis, :], recorded])


def series_figure(model, series: Series, members: np.ndarray | None = None) -> np.ndarray:
    """The series so far for the municipalities ``members`` together, per week; with
    ``members=None`` per week and municipality (the declared rule's ``figure``)."""
    rule = series.national
    columns = {name: so_far(model, name) for name in rule.inputs(series.name)}
    return series.scale * rule.figure(series.name, columns, members, series.window)


def shown_lines(model, series: Series) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """What a time series view shows: (per municipality (weeks, municipalities), [(strategy, per week)])."""
    return series_figure(model, series), [(name, series_figure(model, series, members))
                                          for name, members in strategy_groups(model)]


def shown_frame(model) -> pl.DataFrame:
    """Every time series shown, as one table: a row per week simulated (0: the start) and municipality or strategy."""
    names = model.municipalities["name"].to_list()
    regions = model.municipalities["region"].to_list()
    strategy_of = model.councils.strategy_names()
    weeks = None
    blocks = []
    for series in SERIES:
        per_municipality, per_strategy = shown_lines(model, series)
        weeks = np.arange(len(per_municipality))
        column = f"{series.title} ({series.unit})"
        rows = [pl.DataFrame({WEEKS_SIMULATED: weeks, "level": "municipality", "name": names[m], "region": regions[m],
                              "strategy": strategy_of[m], column: per_municipality[:, m]})
                for m in range(model.n_municipalities)]
        rows += [pl.DataFrame({WEEKS_SIMULATED: weeks, "level": "strategy", "name": name, "region": None,
                               "strategy": name, column: values}) for name, values in per_strategy]
        blocks.append(pl.concat(rows, how="vertical_relaxed").with_columns(pl.col(column).fill_nan(None)))
    frame = blocks[0]
    for block in blocks[1:]:
        frame = frame.join(block, on=[WEEKS_SIMULATED, "level", "name", "region", "strategy"], how="left", nulls_equal=True)
    return frame.with_columns(pl.col(WEEKS_SIMULATED).cast(pl.Int32))


def _rounded(values: np.ndarray) -> list:
    """Values for the browser: ``DIGITS`` significant digits of the largest, None for undefined."""
    finite = np.isfinite(values)
    largest = np.abs(values[finite]).max(initial=0.0)
    decimals = DIGITS - 1 - (int(math.floor(math.log10(largest))) if largest > 0 else 0)
    return np.where(finite, np.round(values, max(decimals, 0)), None).tolist()


# -- the views ---------------------------------------------------------------------------


class Option:
    """A chart's ECharts option, boxed: Solara's renderer walks every dict and list it is
    given, looking for child elements, and a chart's data (thousands of numbers) made that
    walk most of a Step's time. A new box is a new option (compared by identity)."""

    __slots__ = ("value",)

    def __init__(self, value: dict):
        self.value = value


class ChartWidget(EchartsWidget):
    """``solara.FigureEcharts``'s widget, taking a boxed :class:`Option`."""

    option = traitlets.Any(None).tag(sync=True, to_json=lambda option, _: option.value if option else {})


def _chart(option: dict) -> None:
    ChartWidget.element(option=Option(option), attributes=CHART_STYLE)


def _base(title: str, subtitle: str, legend: list[str]) -> dict:
    return {
        "animation": False,  # a new week is a new picture, not a transition
        "title": {"text": title, "subtext": subtitle, "left": 4, "textStyle": {"fontSize": 14}},
        "legend": {"data": legend, "top": 46, "left": 4, "itemWidth": 18, "textStyle": {"fontSize": 11}},
        "grid": {"left": 56, "right": 16, "top": 84, "bottom": 40},
        "tooltip": {"trigger": "item"},
    }


def time_series_view(series: Series):
    """A view of one outcome: a thin line per municipality, a thick one per strategy, with a legend."""

    @solara.component
    def TimeSeries(model, update: int):
        per_municipality, per_strategy = shown_lines(model, series)
        names = model.municipalities["name"].to_list()
        strategy_of = model.councils.strategy_names()
        weeks = list(range(len(per_municipality)))
        thin = [{"name": names[m], "type": "line", "data": _rounded(per_municipality[:, m]), "showSymbol": False,
                 "lineStyle": {"width": 0.8, "opacity": 0.35, "color": strategy_colour(strategy_of[m])},
                 "itemStyle": {"color": strategy_colour(strategy_of[m])}, "z": 1, "silent": False}
                for m in range(model.n_municipalities)]
        thick = [{"name": label(name), "type": "line", "data": _rounded(values), "showSymbol": False,
                  "lineStyle": {"width": 2.5, "color": strategy_colour(name)}, "itemStyle": {"color": strategy_colour(name)},
                  "z": 3} for name, values in per_strategy]
        waiting = f" · shown once {series.window} weeks are recorded" if len(weeks) < series.window else ""
        option = _base(series.title, series.unit + waiting, [label(name) for name, _ in per_strategy])
        option |= {
            "xAxis": {"type": "category", "data": weeks, "name": "weeks simulated", "nameLocation": "middle", "nameGap": 24},
            "yAxis": {"type": "value", "scale": True},
            "tooltip": {"trigger": "axis"} if model.n_municipalities <= 12 else {"trigger": "item"},
            "series": thin + thick,
        }
        _chart(option)

    TimeSeries.__name__ = f"TimeSeries_{series.title.replace(' ', '_')}"
    return TimeSeries


@solara.component
def CaseloadView(model, update: int):
    """How many clients each caseworker has now, stacked by the council's strategy."""
    staff = model.caseworkers
    rows = staff.employed()
    caseload, municipality = staff.caseload[rows], staff.municipality[rows]
    groups = strategy_groups(model)
    edges = np.linspace(0, max(int(caseload.max(initial=0)) + 1, 10), 40)
    centres = [f"{(a + b) / 2:.0f}" for a, b in zip(edges[:-1], edges[1:])]
    target = model.config.council.caseload_target
    bars = [{"name": label(name), "type": "bar", "stack": "all", "barCategoryGap": "5%", "itemStyle": {"color": strategy_colour(name)},
             "data": np.histogram(caseload[members[municipality]], bins=edges)[0].tolist()} for name, members in groups]
    target_bin = int(np.clip(np.searchsorted(edges, target) - 1, 0, len(centres) - 1))
    bars[0]["markLine"] = {"symbol": "none", "silent": True, "lineStyle": {"color": "#000", "type": "dashed"},
                           "label": {"formatter": f"caseload target {target:g}"}, "data": [{"xAxis": centres[target_bin]}]}
    option = _base(f"Caseload of {len(rows):,} caseworkers, week {model.week}", "caseworkers, stacked by the council's strategy",
                   [label(name) for name, _ in groups])
    option |= {"xAxis": {"type": "category", "data": centres, "name": "clients per caseworker", "nameLocation": "middle",
                         "nameGap": 24},
               "yAxis": {"type": "value"}, "series": bars}
    _chart(option)


REGION_ROWS = ("Nordjylland", "Midtjylland", "Syddanmark", "Sjælland", "Hovedstaden")
"""The tile grid's regions, top to bottom: roughly north-west to south-east, as on a map of Denmark."""
TILES_PER_ROW = 10
"""At most this many tiles in a row; a region with more continues on the next rows."""
TILE_LABEL_CHARS = 9
"""Characters in a line of a tile's label: about a tile's width (42 px at the page's usual width) at ``TILE_FONT_PX``."""
TILE_FONT_PX = 8


def tile_label(name: str, width: int = TILE_LABEL_CHARS) -> str:
    """A municipality's name on its tile, in at most two lines of ``width`` characters: whole
    where it fits, broken after a space or a hyphen ("Høje-" "Taastrup"), a single long word
    broken with a hyphen ("Vesthimm-" "erlands"). Abbreviated by one rule where it does not
    fit: in a name of several parts, a part too long for a line is cut to ``width - 1``
    characters and a full stop ("Ringkøbi." "Skjern"); what is left beyond two lines ends
    in a full stop. The tooltip shows the whole name."""
    parts = [part for part in re.split(r"(?<=[ -])", name) if part]
    if len(parts) > 1:
        parts = [part if len(part.rstrip()) <= width else part[: width - 1] + "." for part in parts]
    lines = _packed(parts, width)
    if len(lines) > 2:
        lines = [lines[0], lines[1][:-1] + "."]
    return "\n".join(lines)


def _packed(parts: list[str], width: int) -> list[str]:
    """Parts (each ending in its space or hyphen) filled into lines of ``width``; a part longer
    than a line is broken with a hyphen."""
    lines, current = [], ""
    for part in parts:
        if len((current + part).rstrip()) <= width:
            current += part
            continue
        if current:
            lines.append(current.rstrip())
        while len(part.rstrip()) > width:
            lines.append(part[: width - 1] + "-")
            part = part[width - 1:]
        current = part
    return lines + [current.rstrip()] if current.strip() else lines


def tile_positions(model) -> tuple[list[str], list[tuple[int, int]]]:
    """(row labels, (column, row) per municipality): the tile grid's layout.

    Not a map and needs no map data: Denmark's municipalities are grouped by region
    (north to south-east: Nordjylland, Midtjylland, Syddanmark, Sjælland, Hovedstaden),
    largest first, ``TILES_PER_ROW`` to a row; Hovedstaden, with 29, takes three rows.
    Synthetic municipalities, which have no region, form one group by size.
    """
    regions = model.municipalities["region"].to_list()
    groups = [r for r in REGION_ROWS if r in regions] if None not in regions else [None]
    labels, position = [], [(0, 0)] * len(regions)
    for group in groups:
        members = [m for m in np.argsort(-model.inhabitants, kind="stable") if regions[m] == group]
        first = len(labels)
        for rank, m in enumerate(members):
            position[m] = (rank % TILES_PER_ROW, first + rank // TILES_PER_ROW)
        rows = math.ceil(len(members) / TILES_PER_ROW)
        # category labels must differ: continuation rows get blanks of different lengths
        labels += [(group or "largest first") if k == 0 else " " * (len(labels) + k) for k in range(rows)]
    return labels, position


@solara.component
def TileGridView(model, update: int):
    """Every municipality as a tile, coloured by the chosen outcome this week (a grid cartogram)."""
    chosen, set_chosen = solara.use_state(SERIES[3].title)
    series = next(s for s in SERIES if s.title == chosen)
    per_municipality, _ = shown_lines(model, series)
    now = per_municipality[-1] if len(per_municipality) else np.full(model.n_municipalities, np.nan)
    rows, position = tile_positions(model)
    names = model.municipalities["name"].to_list()
    values = _rounded(now)
    finite = [v for v in values if v is not None]
    tiles = [{"value": [x, y, v], "name": names[m], "label": {"formatter": tile_label(names[m])}}
             for m, ((x, y), v) in enumerate(zip(position, values))]
    option = _base(f"{series.title}, week {model.week}", f"{series.unit} · a tile per municipality, by region, "
                   "largest first", [])
    option |= {
        "grid": {"left": 96, "right": 16, "top": 60, "bottom": 56},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "category", "data": list(range(TILES_PER_ROW)), "show": False},
        "yAxis": {"type": "category", "data": rows, "inverse": True, "axisLabel": {"fontSize": 11}},
        "visualMap": {"min": min(finite, default=0), "max": max(finite, default=1), "calculable": True, "orient": "horizontal",
                      "left": "center", "bottom": 0, "itemHeight": 160, "precision": 3,
                      "inRange": {"color": ["#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"]}},
        "series": [{"name": series.title, "type": "heatmap", "data": tiles, "itemStyle": {"borderColor": "#fff", "borderWidth": 1},
                    "label": {"show": True, "fontSize": TILE_FONT_PX, "lineHeight": TILE_FONT_PX + 1}}],
    }
    with solara.Column(gap="0px", classes=["abm-tile-grid"]):
        solara.Select("Colour the tiles by", value=chosen, values=[s.title for s in SERIES], on_value=set_chosen)
        _chart(option)


def network_sample(model, municipality: int) -> np.ndarray:
    """The municipality's first slots, at most ``NETWORK_NODES``: a contiguous window.

    Ties run mostly between neighbouring slots (a small world on a ring), so a window
    keeps the structure that a random sample of a large municipality would lose; slots
    are stable, so the same people stay in view from week to week.
    """
    block = np.flatnonzero(model.citizens.slot_municipality == municipality)
    return block[:NETWORK_NODES]


def _municipality_label(model, m: int) -> str:
    return f"{m}: {model.municipalities['name'][m]}, {model.inhabitants[m]:,} inhabitants, {label(model.councils.strategy_names()[m])}"


@solara.component
def NetworkView(model, update: int):
    """One chosen municipality's citizens and their ties, coloured by trust."""
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
    xy = {int(s): [round(float(v), 3) for v in layout[int(s)]] for s in present}
    trust = np.round(citizens.trust[present], 2).tolist()
    protesting = citizens.protesting[present]
    nodes = [[*xy[int(s)], t] for s, t in zip(present, trust)]
    protesters = [xy[int(s)] for s in present[protesting]]
    edges = [[xy[a], xy[b]] for a, b in model.network.to_networkx(present).edges()]
    clients = int((citizens.active & (citizens.slot_municipality == municipality)).sum())
    name = model.municipalities["name"][municipality]
    option = _base(f"{name}, week {model.week}: {len(present)} of {clients:,} clients",
                   f"colour: trust (red 0, green 1) · black ring: protesting ({int(protesting.sum())})", [])
    hidden = {"type": "value", "show": False, "scale": True}
    option |= {"grid": {"left": 8, "right": 8, "top": 64, "bottom": 8}, "xAxis": hidden, "yAxis": hidden,
               "visualMap": {"show": False, "dimension": 2, "min": 0, "max": 1, "seriesIndex": 1,
                             "inRange": {"color": [matplotlib.colors.to_hex(TRUST_COLOURS(x)) for x in np.linspace(0, 1, 9)]}},
               "series": [{"type": "lines", "coordinateSystem": "cartesian2d", "silent": True, "polyline": False,
                           "data": [{"coords": edge} for edge in edges],
                           "lineStyle": {"color": "#999", "width": 0.4, "opacity": 0.6}},
                          {"name": "trust", "type": "scatter", "data": nodes, "symbolSize": 7, "z": 3,
                           "itemStyle": {"opacity": 1, "borderColor": "#555", "borderWidth": 0.4}},
                          {"name": "protesting", "type": "scatter", "data": protesters, "symbolSize": 12, "z": 4,
                           "silent": True, "itemStyle": {"color": "rgba(0,0,0,0)", "borderColor": "#000", "borderWidth": 2}}]}
    with solara.Column(gap="0px"):
        solara.Select(
            "Municipality shown",
            value=_municipality_label(model, municipality),
            values=[_municipality_label(model, m) for m in range(model.n_municipalities)],
            on_value=lambda text: set_chosen(int(text.split(":")[0])),
        )
        _chart(option)


FIGURES = (
    ("Clients", Series("clients"), "{:,.0f}"),
    ("Trust", Series("trust_mean"), "{:.3f}"),
    ("Protesters per 1,000 clients", Series("protesters_per_1000_clients", rule=PROTESTERS), "{:.1f}"),
    ("Caseworkers", Series("caseworkers"), "{:,.0f}"),
    ("Caseload", Series("caseload_mean"), "{:.1f}"),
    (f"Turnover / yr ({TURNOVER_WINDOW} wk)", TURNOVER, "{:.1%}"),
    ("Net cost (M DKK / week)", Series("net_cost", scale=1e-6), "{:,.2f}"),
)
"""The key figures of the week (a short title, the series, its format), added up like the time series."""


@solara.component
def KeyFiguresView(model, update: int):
    """This week's figures per strategy (and all together), under the settings of the run."""
    settings = " · ".join(f"{name}: <b>{html.escape(value)}</b>" for name, value in settings_summary(model.config))
    parts = [f"<h3 style='margin:0'>Week {model.week} of {model.config.run.weeks}</h3>",
             f"<p style='font-size:11px;color:#555;margin:2px 0'>{settings}</p>",
             "<p style='font-size:11px;color:#555;margin:2px 0'>Colours: strategies. Plots: a thin line per "
             "municipality, a thick line per strategy (its municipalities together); click a legend entry to hide it.</p>"]
    parts += [f"<p style='color:#b00020;margin:2px 0'>Not applied: {html.escape(problem)}</p>" for problem in model.control_problems]
    if model.record.rows == 0:
        parts.append("<p>The start, before the first week: press <b>Step</b> or <b>▶</b>.</p>")
    groups = strategy_groups(model)
    if len(groups) > 1:
        groups.append(("all", np.ones(model.n_municipalities, dtype=bool)))
    rows = [["Municipalities", *(str(members.sum()) for _, members in groups)]]
    for title, series, form in FIGURES:
        rows.append([title, *("—" if not np.isfinite(value := series_figure(model, series, members)[-1])
                                      else form.format(value) for _, members in groups)])
    parts.append(_html_table(["", *(name for name, _ in groups)], rows))
    with solara.Column(gap="4px"):
        solara.HTML(tag="div", unsafe_innerHTML="".join(parts), style="padding: 2px 8px; font-size: 12px; overflow-x: auto")
        if model.record.rows:
            solara.FileDownload(lambda: shown_frame(model).write_csv(), filename=f"abm-week-{model.week}.csv",
                                label="Download the plotted series (CSV)", mime_type="text/csv")


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain HTML table (Solara's Markdown would fetch KaTeX from the internet).

    Strategy columns are headed in their colour; underscores become spaces so they wrap.
    """
    cell = "padding:1px 6px;border-bottom:1px solid #ddd;text-align:right"
    head = "".join(
        f"<th style='{cell};vertical-align:bottom;color:{strategy_colour(h)}'>{html.escape(label(h))}</th>" for h in header
    )
    body = "".join(
        "<tr>" + "".join(f"<td style='{cell}{';text-align:left' if i == 0 else ''}'>{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table style='border-collapse:collapse'><tr>{head}</tr>{body}</table>"


def views() -> list:
    """The views, in the order they are laid out (two per row)."""
    return [KeyFiguresView, TileGridView, *(time_series_view(s) for s in SERIES), CaseloadView, NetworkView]
