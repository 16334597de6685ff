"""A self-contained HTML report of a comparison: the table, the figures with captions, and
the config and seeds that redo it.

The table is transposed (outcomes as rows with their units, strategies as columns) so it
fits the page however many strategies are compared; the baseline's column shows its
means only (its difference from itself says nothing). The figures are embedded as PNG data,
so the file can be mailed on its own. Rendered with Jinja2, which escapes every value.
"""

from __future__ import annotations

import base64
import json

import jinja2
import polars as pl

from abm.compare import PAYBACK_NOTE, payback_text, with_interval
from abm.plots import Figure
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS
from abm.simulate import OUTCOMES
from abm.style import strategy_colour, strategy_label

TEMPLATE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; line-height: 1.4; }
table { border-collapse: collapse; font-size: 0.85em; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; overflow-wrap: anywhere; }
td { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f3f3f3; text-align: center; }
tbody th { text-align: left; font-weight: normal; }
th.outcome { width: 22%; }
.unit, .delta, figcaption, .note { color: #555; font-size: 0.9em; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; vertical-align: baseline; }
img { max-width: 100%; }
figure { margin: 1.5em 0; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ description }}</p>
<p class="note">{{ run_line }}</p>
<h2>Outcomes by strategy</h2>
<p>Mean over {{ replications }} replication(s) ± 95% t-interval; Δ: paired difference from <b>{{ baseline_label }}</b>
(same seeds, common random numbers) ± its 95% t-interval. n/a: undefined (an interval needs two replications or more).</p>
<table>
<thead><tr><th class="outcome">outcome [unit]</th>
{% for column in columns %}<th><span class="swatch" style="background: {{ column.colour }}"></span>{{ column.label }}{% if column.baseline %}<br><span class="unit">(baseline)</span>{% endif %}</th>{% endfor %}
</tr></thead>
<tbody>
{% for row in rows %}
<tr><th>{{ row.label }}<br><span class="unit">[{{ row.unit }}]</span></th>
{% for cell in row.cells %}<td>{{ cell.value }}{% if cell.delta %}<br><span class="delta">Δ {{ cell.delta }}</span>{% endif %}</td>{% endfor %}
</tr>
{% endfor %}
</tbody></table>
<p class="note">{{ payback_note }}</p>
<h2>Figures</h2>
{% for figure in figures %}
<figure><img alt="{{ figure.title }}" src="data:image/png;base64,{{ figure.data }}">
<figcaption><b>Figure {{ loop.index }}. {{ figure.title }}.</b> {{ figure.caption }} (SVG: plots/{{ figure.svg }})</figcaption></figure>
{% endfor %}
<h2>Config and seeds</h2>
<p>Seeds by replication: {{ seeds }}. The resolved config of the first run (the baseline's; every run's is in the
<code>config</code> column of runs.parquet); the same config and seed give the same results, byte for byte.</p>
<pre>{{ config }}</pre>
</body></html>
""")


def html_report(title: str, description: str, table: pl.DataFrame, baseline: str, figures: list[Figure],
                run_line: str, caption_line: str, config_json: str, seeds: list[int]) -> str:
    """The report as one HTML string (see the module docstring for its layout)."""
    records = list(table.iter_rows(named=True))
    columns = [{"label": strategy_label(r["strategy"]), "colour": strategy_colour(r["strategy"]),
                "baseline": r["strategy"] == baseline} for r in records]
    rows = [{"label": OUTCOME_LABELS[o], "unit": SUMMARY_UNITS[o],
             "cells": [{"value": with_interval(r[o], r[f"{o}_ci95"]),
                        "delta": None if r["strategy"] == baseline else with_interval(r[f"{o}_vs_{baseline}"], r[f"{o}_vs_{baseline}_ci95"])}
                       for r in records]}
            for o in OUTCOMES]
    rows.append({"label": "Payback against the baseline", "unit": "median years (share of replications)",
                 "cells": [{"value": payback_text(r, baseline), "delta": None} for r in records]})
    embedded = [{"title": f.title, "caption": caption_line, "svg": f.path.with_suffix(".svg").name,
                 "data": base64.b64encode(f.path.read_bytes()).decode()} for f in figures]
    return TEMPLATE.render(
        title=title, description=description, run_line=run_line, replications=table["replications"].max(),
        baseline_label=strategy_label(baseline), columns=columns, rows=rows, payback_note=PAYBACK_NOTE,
        figures=embedded, seeds=", ".join(map(str, seeds)), config=json.dumps(json.loads(config_json), indent=2, ensure_ascii=False),
    )
