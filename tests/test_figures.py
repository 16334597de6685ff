"""Figures and reports fit for a paper: files and formats, one colour per strategy, units,
readable file modes, n/a for an undefined interval, Parquet metadata.

The comparison and the sweep are real runs of small configs (the CLI in a subprocess, as a
user runs it, and in this process where an object is needed); nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

import abm
from abm import strategies
from abm.cli import main
from abm.compare import comparison_table, format_table, payback_weeks, run_comparison, with_interval
from abm.mechanisms import OUTPUTS
from abm.plots import DPI, bootstrap_mean, caption, comparison_plots, differences_plot, mean_band, seeds_fingerprint
from abm.report import html_report
from abm.results import OUTCOME_LABELS, SUMMARY_UNITS, write_parquet, write_text
from abm.simulate import OUTCOMES
from abm.style import OKABE_ITO, strategy_colour, strategy_label, strategy_style
from conftest import small_config
from test_sweep_experiment import write_experiment

pytestmark = pytest.mark.xdist_group("figures")  # the module's comparison is run once, on one worker
TINY = ["--set", "municipalities.count=3", "--set", "municipalities.population_scale=0.02",
        "--set", "run.weeks=60", "--set", "run.burn_in_weeks=4"]


def _umask_022() -> None:
    os.umask(0o022)


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> Path:
    """``abm compare`` of three strategies, two replications, under the usual umask 022."""
    out = tmp_path_factory.mktemp("figures") / "cmp"
    done = subprocess.run(
        [sys.executable, "-m", "abm.cli", "compare", "configs/compare.toml", *TINY, "--workers", "1", "--seed", "3",
         "--set", "compare.replications=2", "--set", 'compare.strategies=["status_quo", "invest", "pilot_then_scale"]',
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, preexec_fn=_umask_022)
    assert done.returncode == 0, done.stderr
    return out


def test_every_figure_is_a_high_resolution_png_and_an_svg(comparison):
    pngs = sorted((comparison / "plots").glob("*.png"))
    names = {p.stem for p in pngs}
    assert {"overview", "differences", "trust_mean", "turnover_annualised", "protesters_per_1000_clients",
            "unemployed_share", "net_cost", "cumulative_extra_cost"} <= names
    for png in pngs:
        dpi = Image.open(png).info["dpi"]
        assert min(dpi) >= DPI - 0.5 >= 199.5, (png.name, dpi)
        svg = png.with_suffix(".svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg, png.name
        assert "<dc:date>" not in svg  # no date: the same results give the same bytes


def test_each_strategy_has_its_colour_and_readable_name_in_every_figure(comparison):
    for svg in (comparison / "plots").glob("*.svg"):
        text = svg.read_text().lower()
        for strategy in ("invest", "pilot_then_scale"):
            assert strategy_colour(strategy).lower() in text, (svg.name, strategy)
    # matplotlib writes text in SVG as glyph paths with the string in a comment
    assert "Pilot then scale" in (comparison / "plots" / "trust_mean.svg").read_text()
    assert "pilot_then_scale" not in (comparison / "comparison.txt").read_text()


def test_captions_say_replications_seeds_scale_and_config(comparison):
    report = (comparison / "report.html").read_text()
    runs = pl.read_parquet(comparison / "runs.parquet")
    seeds = runs.filter(pl.col("strategy") == "status_quo").sort("replication")["seed"].to_list()
    figures = len(list((comparison / "plots").glob("*.png")))
    assert report.count("<figcaption>") == report.count("data:image/png;base64,") == figures
    line = f"2 replication(s) per strategy; seeds #{seeds_fingerprint(seeds)}"
    assert report.count(line) >= figures and "population scale 0.02" in report and "config configs/compare.toml" in report
    assert f"Seeds by replication: {seeds[0]}, {seeds[1]}" in report  # in full once, below the figures
    svg = (comparison / "plots" / "overview.svg").read_text()
    assert seeds_fingerprint(seeds) in svg and str(seeds[0]) not in svg  # a short fingerprint, not 19-digit seeds


def test_report_has_units_a_transposed_table_and_no_baseline_differences(comparison):
    report = (comparison / "report.html").read_text()
    table = report[report.index("<table>"):report.index("</table>")]
    header = table[:table.index("</thead>")]
    assert [strategy_label(s) in header for s in ("status_quo", "invest", "pilot_then_scale")] == [True] * 3
    rows = re.findall(r"<tr><th>(.*?)</tr>", table, flags=re.S)
    assert len(rows) == len(OUTCOMES) + 1  # the outcomes, then the payback
    for row, outcome in zip(rows, OUTCOMES):
        assert OUTCOME_LABELS[outcome] in row and f"[{SUMMARY_UNITS[outcome]}]" in row
        cells = re.findall(r"<td>(.*?)</td>", row, flags=re.S)
        assert "Δ" not in cells[0] and all("Δ" in cell for cell in cells[1:])  # the baseline comes first
    assert "baseline" in rows[-1]
    assert json.loads(pl.read_parquet(comparison / "runs.parquet")["config"][0]) == json.loads(
        re.search(r"<pre>(.*?)</pre>", report, flags=re.S).group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"))


def test_text_table_is_aligned(comparison):
    text = (comparison / "comparison.txt").read_text()
    first = text.split("\n\n")[0].splitlines()[1:]  # the means table, below its title
    assert len({len(line.rstrip()) for line in first[:2]}) == 1  # header and rule the same width
    rule = first[1]
    columns = [m.end() for m in re.finditer(r"-+", rule)]
    for line in first[2:]:  # every figure ends at its column's right edge
        for end in columns[2:]:
            assert line[end - 1] != " ", line


def test_result_files_are_readable_by_the_group(comparison):
    files = [p for p in comparison.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


def test_parquet_files_carry_units_version_and_seed(comparison):
    for name in ("runs.parquet", "weekly.parquet", "comparison.parquet"):
        metadata = pl.read_parquet_metadata(comparison / name)
        assert metadata["abm_version"] == abm.__version__ and metadata["seed"] == "3", name
        units = json.loads(metadata["units"])
        assert units, name
        frame = pl.read_parquet(comparison / name)
        assert set(units) <= set(frame.columns)
    assert json.loads(pl.read_parquet_metadata(comparison / "runs.parquet")["units"])["net_cost_mdkk"] == SUMMARY_UNITS["net_cost_mdkk"]
    weekly_units = json.loads(pl.read_parquet_metadata(comparison / "weekly.parquet")["units"])
    declared = {output.name: output.unit for output in OUTPUTS}
    assert weekly_units["trust_mean"] == declared["trust_mean"] and weekly_units["net_cost"] == declared["net_cost"]
    comparison_units = json.loads(pl.read_parquet_metadata(comparison / "comparison.parquet")["units"])
    assert comparison_units["trust_mean_vs_status_quo_ci95"] == SUMMARY_UNITS["trust_mean"]


def test_writes_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        parquet = write_parquet(pl.DataFrame({"trust_mean": [0.5]}), tmp_path / "a.parquet")
        text = write_text("x\n", tmp_path / "a.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(parquet.stat().st_mode) == stat.S_IMODE(text.stat().st_mode) == 0o640
    assert "seed" not in pl.read_parquet_metadata(parquet)  # none given: none claimed


@pytest.fixture
def keep_as_well():
    """A user strategy that decides as status_quo does (registered for the test only)."""
    strategies.register_strategy("keep_as_well", doc="keeps the positions it has, as status_quo does")(
        lambda decision: decision.ordinary_positions)
    yield "keep_as_well"
    strategies.unregister("keep_as_well")


@pytest.mark.slow
def test_one_replication_shows_intervals_as_na_and_a_copy_of_the_baseline_as_same(tmp_path, keep_as_well):
    config = small_config(municipalities__count=2, municipalities__population_scale=0.02, run__weeks=20,
                          run__burn_in_weeks=4).with_overrides(
        {"compare.replications": 1, "compare.strategies": ["status_quo", "invest", "keep_as_well"]})
    runs, _, national = run_comparison(config, workers=1)
    names = ["status_quo", "invest", "keep_as_well"]
    table = comparison_table(runs, payback_weeks(national, "status_quo"), "status_quo", names)
    assert table["trust_mean_ci95"].null_count() == 3  # undefined, not 0
    text = format_table(table, "status_quo")
    assert "n/a" in text and "± 0.000" not in text
    payback = next(line for line in text.splitlines() if line.startswith("Payback against the baseline"))
    assert payback.rstrip().endswith("same as baseline")  # the copy of the baseline: not "0.0 (100%)"
    caption_line = caption(1, runs["seed"].unique().to_list(), runs["inhabitants"][0], 0.02, 20, "test")
    figures = comparison_plots(national, runs, table, names, "status_quo", tmp_path / "plots", caption_line)
    assert "one replication: no interval" in caption_line and len(figures) == 8
    assert all(f.path.with_suffix(".svg").exists() for f in figures)
    report = html_report("t", "d", table, "status_quo", figures, "run", caption_line, config.to_json(), [1])
    assert "n/a" in report and "± 0.000" not in report and "same as baseline" in report


def test_turnover_is_plotted_from_the_week_its_window_is_full(tmp_path):
    from abm.plots import figure_data
    from abm.metrics import TURNOVER_WINDOW
    config = small_config(municipalities__count=2, municipalities__population_scale=0.02, run__weeks=60,
                          run__burn_in_weeks=4).with_overrides({"compare.replications": 1, "compare.strategies": ["status_quo"]})
    runs, _, national = run_comparison(config, workers=1)
    data = figure_data(national, runs, "status_quo")
    shown = data.filter(pl.col("turnover_annualised").is_not_null())["week"]
    assert shown.min() == TURNOVER_WINDOW - 1 and national["turnover_annualised"].null_count() < TURNOVER_WINDOW - 1
    share = data["unemployed_share"].to_numpy()
    assert np.all((share > 0) & (share < 100))


def test_palette_is_fixed_per_strategy_and_covers_registered_strategies(keep_as_well):
    built_in = ["status_quo", "invest", "austerity", "pilot_then_scale", "responsive", "imitate"]
    colours = [strategy_colour(name) for name in built_in]
    assert colours == list(OKABE_ITO[:len(built_in)])  # the registry's order: the same in every process
    assert strategy_colour("keep_as_well") in OKABE_ITO and strategy_colour("keep_as_well") not in colours
    assert strategy_colour("from_an_old_file") in OKABE_ITO
    assert strategy_label("pilot_then_scale") == "Pilot then scale" and strategy_label("keep_as_well") == "Keep as well"
    strategies.register_strategy("hold_custom", doc="holds", label="Hold (custom)")(lambda d: d.ordinary_positions)
    try:
        assert strategy_label("hold_custom") == "Hold (custom)"
    finally:
        strategies.unregister("hold_custom")
    names = ("invest", "imitate", "from_an_old_file")
    program = f"from abm.style import strategy_colour; print(*map(strategy_colour, {names!r}))"
    other = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.split()
    assert other == [strategy_colour(name) for name in names]  # another process: the same colours


def test_sweep_figures_are_png_and_svg_with_a_caption_and_seed_metadata(tmp_path):
    path = write_experiment(tmp_path, replications=1, seed=5)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--workers", "1", "--out", str(out)]) == 0
    png = out / "plots" / "curves.png"
    assert min(Image.open(png).info["dpi"]) >= 199.5 and png.with_suffix(".svg").exists()
    svg = png.with_suffix(".svg").read_text()
    assert strategy_colour("invest").lower() in svg.lower() and "experiment seed 5" in svg
    assert pl.read_parquet_metadata(out / "table.parquet")["seed"] == "5"
    table = (out / "table.txt").read_text()
    assert "n/a" in table and "± 0.000" not in table  # one replication per row


# -- fit for a paper ----------------------------------------------------------------------


def _grey_line(style: dict) -> np.ndarray:
    """A strategy's line with its markers, rendered and printed in greyscale."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(2.4, 0.5), dpi=100)
    ax.plot(np.linspace(0, 1, 40), np.full(40, 0.5), linewidth=1.4, markersize=5, markevery=(0, 8), **style)
    ax.set_axis_off()
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    plt.close(figure)
    return np.asarray(Image.fromarray(rgba).convert("L"), dtype=float)


def test_every_strategy_survives_greyscale_printing():
    """Each pair of registered strategies looks different printed in grey, by far more than two
    lines of one style whose colours print as the same grey (Okabe-Ito's orange and sky blue)."""
    names = list(strategies.names())
    greys = {name: _grey_line(strategy_style(name)) for name in names}
    same_style = strategy_style(names[0])
    control = np.abs(_grey_line(same_style | {"color": "#E69F00"}) - _grey_line(same_style | {"color": "#56B4E9"})).mean()
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            difference = np.abs(greys[first] - greys[second]).mean()
            assert difference > 5 * control, (first, second, difference, control)
    styles = [(strategy_style(n)["linestyle"], strategy_style(n)["marker"]) for n in names]
    assert len({s for s, _ in styles}) == len({m for _, m in styles}) == len(names)  # both differ, not just one


def test_bands_stay_within_what_the_replications_reached():
    """A rate that is 0 in four replications and high in one: a t-interval dips below 0, the bootstrap band does not."""
    values = np.array([[0.0, 0.1], [0.0, 0.2], [0.0, 0.1], [0.0, 0.3], [0.8, 0.2]])
    mean, low, high = bootstrap_mean(values)
    assert mean == pytest.approx([0.16, 0.18]) and (low >= 0).all() and (high <= values.max(axis=0)).all()
    assert (low < mean).all() and (mean < high).all()
    assert mean[0] - 2.776 * values[:, 0].std(ddof=1) / np.sqrt(5) < 0  # what the t-interval gave
    mean, low, high = bootstrap_mean(values[:1])
    assert np.isnan(low).all() and np.isnan(high).all()  # one replication: no interval
    assert np.array_equal(bootstrap_mean(values)[1], bootstrap_mean(values)[1])  # a fixed seed: the same figure


def test_turnover_band_is_never_below_zero(comparison):
    runs = pl.read_parquet(comparison / "runs.parquet")
    weekly = pl.read_parquet(comparison / "weekly.parquet")
    assert runs.height and weekly.height
    data = pl.DataFrame({"strategy": ["austerity"] * 6, "replication": [0, 1, 2, 0, 1, 2], "week": [0, 0, 0, 1, 1, 1],
                         "turnover_annualised": [0.0, 0.0, 0.9, 0.0, 0.1, 0.0]})
    band = mean_band(data, "turnover_annualised", "austerity")
    assert band["low"].min() >= 0 and band["high"].max() <= 0.9


def test_one_strategy_far_off_does_not_flatten_the_others(tmp_path):
    """Austerity's effect 100 times the others': drawn off the scale, with its value written, so the
    others' intervals fill the panel."""
    import matplotlib.pyplot as plt

    others = ["invest", "austerity", "pilot_then_scale"]
    rows = []
    for strategy, effect in zip(others, (-1.0, 120.0, -0.5)):
        row = {"strategy": strategy}
        for outcome in OUTCOMES:
            row |= {f"{outcome}_vs_status_quo": effect, f"{outcome}_vs_status_quo_ci95": abs(effect) / 4}
        rows.append(row)
    drawn = {}
    original = plt.Figure.savefig

    def keep(figure, *args, **kwargs):
        drawn["axes"] = [(ax.get_xlim(), [t.get_text() for t in ax.texts]) for ax in figure.axes]
        return original(figure, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        differences_plot(pl.DataFrame(rows), "status_quo", others, tmp_path / "differences.png", "caption")
    finally:
        plt.Figure.savefig = original
    for (left, right), texts in drawn["axes"]:
        assert right - left < 5  # the others' scale (-1.25 .. 0), not austerity's 150
        assert any("120 ± 30" in text and "off scale" in text for text in texts)  # its value, written


@pytest.mark.parametrize("mean, half, text", [
    (0.580, 0.665, "0.58 ± 0.67"), (76.8, 4.722, "76.8 ± 4.7"), (5648.0, 401.4, "5,650 ± 400"),
    (-0.0123, 0.00456, "-0.0123 ± 0.0046"), (0.0004, 0.0123, "0.000 ± 0.012"), (0.5, None, "0.500 ± n/a"),
    (0.0, 0.0, "0 ± 0"), (2.5, 0.0, "2.500 ± 0"),
])
def test_table_cells_have_the_precision_of_their_interval(mean, half, text):
    assert with_interval(mean, half) == text
