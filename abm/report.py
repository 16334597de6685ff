"""A self-contained HTML report: the comparison table and the plots embedded as PNG data."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import polars as pl

from abm.compare import format_number
from abm.simulate import OUTCOMES


def html_report(title: str, description: str, table: pl.DataFrame, baseline: str, plots: list[Path], notes: list[str]) -> str:
    rows = []
    for record in table.iter_rows(named=True):
        cells = "".join(
            f"<td>{format_number(record[o])} <small>± {format_number(record[o + '_ci95'])}</small><br>"
            f"<small>Δ {format_number(record[f'{o}_vs_{baseline}'])} ± {format_number(record[f'{o}_vs_{baseline}_ci95'])}</small></td>"
            for o in OUTCOMES
        )
        payback = "baseline" if record["strategy"] == baseline else "never" if record["payback_years_median"] is None else f"{record['payback_years_median']:.1f} y ({record['payback_share']:.0%})"
        rows.append(f"<tr><th>{html.escape(record['strategy'])}</th>{cells}<td>{payback}</td></tr>")
    header = "".join(f"<th>{html.escape(o)}</th>" for o in OUTCOMES)
    images = "".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{html.escape(p.stem)}</figcaption></figure>"
        for p in plots
    )
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; text-align: right; vertical-align: top; }}
thead th {{ background: #f3f3f3; }}
img {{ max-width: 100%; }}
figure {{ margin: 1em 0; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(description)}</p>
<h2>Outcomes by strategy</h2>
<p>Mean over replications ± 95% interval; Δ: paired difference from <b>{html.escape(baseline)}</b> (common random numbers).</p>
<table><thead><tr><th>strategy</th>{header}<th>payback</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
<ul>{notes_html}</ul>
<h2>Over time</h2>
{images}
</body></html>
"""
