"""``abm viz`` as a researcher uses it: the real server, driven by a real headless Chromium.

The browser is Debian's ``chromium`` (installed by ``.ci/run``), driven in real time by
Playwright, because Solara renders the page over a websocket. Every request that leaves
127.0.0.1 is blocked and recorded, so the page is shown to work offline (ECharts comes
from Solara's bundled assets). Charts are read through their ECharts instance (the option
the browser draws: legend, series, tiles). The play test saves a
screenshot in pytest's temporary folder; to refresh the one the README shows, run it with
``ABM_SCREENSHOT=docs/img/viz.png``. The last two tests are fast: bad input fails before
any server starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import polars as pl
import pytest
from playwright.sync_api import expect, sync_playwright

from abm.strategies import names
from abm.style import strategy_label

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("browser")  # one abm viz and Chromium, shared by the module's tests
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SMALL = ["--set", "municipalities.count=6", "--set", "municipalities.population_scale=0.2"]
SCREENSHOT = "ABM_SCREENSHOT"  # environment variable: where to save the play test's screenshot
CHARTS = 8  # the tile grid, five time series, the caseload histogram, the network
TIME_SERIES = ("Trust in the jobcenter", "Caseworker turnover", "Citizens protesting", "Full-year unemployed", "Net cost")
STRATEGIES = names()  # the server, a fresh process, has the built-in strategies


def abm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "abm.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_line(process: subprocess.Popen, seconds: float) -> str:
    """The first line the process prints within ``seconds`` ('' if none)."""
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    return process.stdout.readline() if ready else ""


@contextlib.contextmanager
def serving(config: str, folder: Path) -> Iterator[str]:
    """``abm viz CONFIG`` (small) on a free loopback port; yields its address, stops it at the end.

    Its stderr goes to a file (a pipe nobody reads could fill up and stall the server).
    """
    port = free_port()
    log = folder / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "abm.cli", "viz", config, "--port", str(port), *SMALL],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
    try:
        line = read_line(process, 90)
        address = f"http://127.0.0.1:{port}/"
        assert address in line, f"abm viz did not print its address; stdout {line!r}, stderr:\n{log.read_text()}"
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on the baseline config (one strategy)."""
    with serving("configs/baseline.toml", tmp_path_factory.mktemp("viz")) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def opened(browser, address: str) -> Iterator:
    """A fresh page on the app (a new session, so a new model); records console errors."""
    page = browser.new_page(viewport={"width": 1500, "height": 950}, accept_downloads=True)
    page.errors, page.outside = [], []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: (page.outside.append(route.request.url), route.abort()))
    page.goto(address)
    # The server's first model compiles the kernels when numba's cache is cold (a fresh clone,
    # beside the other test worker compiling too): a minute or more, before the page shows week 0.
    wait_for_week(page, 0, seconds=180)
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def page(server, browser):
    with opened(browser, server) as page:
        yield page


CHART_OPTIONS = """() => Array.from(document.querySelectorAll('.solara-echarts'))
    .map(e => e.__vue__ && e.__vue__.chart ? e.__vue__.chart.getOption() : null)"""


def charts(page) -> list[dict]:
    """The option each drawn chart shows, in page order (read from the chart's own ECharts instance)."""
    options = page.evaluate(CHART_OPTIONS)
    assert None not in options, "every chart is drawn"
    return options


def time_series(page, title: str) -> dict:
    return next(option for option in charts(page) if option["title"][0]["text"] == title)


def tile_grid(page) -> dict:
    return next(option for option in charts(page) if option["series"][0]["type"] == "heatmap")


def wait_for_charts(page) -> None:
    page.wait_for_function(f"() => ({CHART_OPTIONS})().filter(o => o).length >= {CHARTS}", timeout=30_000)


def wait_for_week(page, week: int, seconds: float = 30) -> None:
    page.get_by_text(f"Week {week} of").wait_for(timeout=seconds * 1000)


def step(page, week_after: int) -> None:
    page.get_by_role("button", name="Step").click()
    wait_for_week(page, week_after)


def choose(page, label: str, option: str | re.Pattern) -> None:
    """Pick ``option`` (its text, or a pattern of it) in the dropdown labelled ``label``."""
    menu = page.locator(".v-select", has_text=label)
    menu.locator(".v-select__selections").click()
    page.get_by_role("option", name=option).click()
    expect(menu).to_contain_text(option)


def slide(page, label: str, start: int, end: int, presses: int) -> None:
    """Move the slider labelled ``label`` from ``start`` to ``end`` with the arrow keys."""
    slider = page.locator(".v-input", has_text=label).get_by_role("slider")
    expect(slider).to_have_attribute("aria-valuenow", str(start))
    slider.focus()
    for _ in range(presses):
        slider.press("ArrowRight")
        page.wait_for_timeout(250)  # let each value reach the server: quick presses can be lost
    expect(slider).to_have_attribute("aria-valuenow", str(end))


def every_strategy_in_twelve_municipalities(page) -> None:
    choose(page, "Strategy mix (overrides it)", "every strategy in turn")
    slide(page, "Municipalities", 6, 12, presses=6)
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("Municipalities: 12").wait_for(timeout=60_000)  # the settings the model was built with
    wait_for_week(page, 0)


@pytest.mark.slow
def test_page_loads_offline_with_its_charts_slider_values_and_no_unexplained_widgets(page):
    wait_for_charts(page)
    assert page.get_by_text("Strategy of every council").first.is_visible()
    for slider in page.get_by_role("slider").all():  # each slider shows its value on its thumb
        thumb = slider.locator(".v-slider__thumb-label")
        expect(thumb).to_be_visible()
        assert thumb.inner_text().strip() == slider.get_attribute("aria-valuenow")
    expect(page.locator(".v-input", has_text="Municipalities").locator(".v-slider__thumb-label")).to_have_text("6")
    for unexplained in ("Page 0", "Use Threads"):
        assert page.get_by_text(unexplained, exact=False).count() == 0
    time.sleep(1)  # late resource errors would arrive now
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_step_redraws_every_chart_and_time_series_have_legends(page):
    wait_for_charts(page)
    step(page, 1)
    step(page, 2)
    page.wait_for_timeout(500)
    before = charts(page)
    step(page, 3)
    page.wait_for_timeout(1_000)  # the charts' new options arrive just after the text
    after = charts(page)
    assert len(before) == len(after) == CHARTS
    unchanged = [new["title"][0]["text"] for new, old in zip(after, before) if new["series"] == old["series"]]
    assert unchanged == [], "every chart is redrawn with the new week's data"
    for title in TIME_SERIES:
        option = time_series(page, title)
        shown = option["legend"][0]
        assert shown.get("show", True) and shown["data"] == ["Status quo"], title
        assert [s["name"] for s in option["series"]][-1] == "Status quo"  # the strategy's own (thick) line
        assert len(option["series"][-1]["data"]) == 4  # the start and weeks 1-3
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_tile_grid_shows_every_municipality_coloured_by_the_chosen_outcome(page):
    wait_for_charts(page)
    step(page, 1)
    page.wait_for_timeout(500)
    tiles = tile_grid(page)
    assert tiles["title"][0]["text"] == "Full-year unemployed, week 1"
    assert tiles["series"][0]["type"] == "heatmap"
    cells = tiles["series"][0]["data"]
    assert len(cells) == 6 and len({tuple(cell["value"][:2]) for cell in cells}) == 6  # a tile each, none on another
    assert all(cell["value"][2] > 0 for cell in cells)  # clients per 1,000 inhabitants
    assert tiles["visualMap"][0]["min"] == min(cell["value"][2] for cell in cells)
    choose(page, "Colour the tiles by", "Citizens protesting")
    page.wait_for_function(f"() => ({CHART_OPTIONS})().some(o => o && o.title[0].text.startsWith('Citizens protesting, week 1'))")
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_download_holds_the_plotted_series(page, tmp_path):
    wait_for_charts(page)
    step(page, 1)
    step(page, 2)
    page.wait_for_timeout(500)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download the plotted series")).click()
    path = tmp_path / "series.csv"
    download.value.save_as(path)
    table = pl.read_csv(path)
    assert table.height == 3 * (6 + 1)  # the start and two weeks, of six municipalities and one strategy
    unemployment = time_series(page, "Full-year unemployed")["series"][-1]["data"]
    column = next(name for name in table.columns if name.startswith("Full-year unemployed ("))
    shown = table.filter(pl.col("level") == "strategy").sort("weeks_simulated")[column].to_list()
    assert shown == pytest.approx(unemployment, rel=1e-4)
    assert table[next(name for name in table.columns if name.startswith("Caseworker turnover"))].null_count() == table.height
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_changing_controls_and_reset_rebuilds_the_model(page):
    every_strategy_in_twelve_municipalities(page)
    assert "Strategy mix (overrides it): " + ", ".join(STRATEGIES) in page.get_by_text("Municipalities: 12").inner_text()
    step(page, 1)
    table = page.locator("table").first.inner_text()
    for strategy in STRATEGIES:
        assert strategy_label(strategy) in table
    rows = {cells[0]: cells[1:] for cells in (line.split("\t") for line in table.splitlines()[1:])}
    rows = {name: [float(cell.replace(",", "")) for cell in cells] for name, cells in rows.items() if name in ("Municipalities", "Clients")}
    assert rows["Municipalities"] == [len(range(i, 12, len(STRATEGIES))) for i in range(len(STRATEGIES))] + [12]
    assert rows["Clients"][-1] == sum(rows["Clients"][:-1]) > 0  # the "all" column totals the strategies
    assert page.errors == []


@pytest.mark.slow
def test_a_bad_seed_is_reported_on_the_page_and_a_good_one_used(page):
    choose(page, "Labour market", "recession")
    seed = page.get_by_label("Seed")
    seed.fill("abc")
    seed.press("Enter")
    page.get_by_role("button", name="Reset").click()
    page.get_by_text('Not applied: browser: run.seed = "abc" is not allowed').wait_for(timeout=30_000)
    assert page.get_by_text("Labour market: recession").count() == 1  # the other controls are applied
    seed.fill("7")
    seed.press("Enter")
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("Seed: 7").wait_for(timeout=30_000)
    assert page.get_by_text("Not applied").count() == 0
    assert page.errors == []


@pytest.mark.slow
def test_play_runs_weeks_and_the_screenshot_is_saved(page, tmp_path):
    every_strategy_in_twelve_municipalities(page)
    slide(page, "Weeks per Step", 1, 5, presses=4)  # charts redrawn every 5 weeks
    page.get_by_role("button", name="▶").click()
    page.wait_for_function(
        "() => { const shown = document.body.innerText.match(/Week (\\d+) of/); return shown && +shown[1] >= 40 }",
        timeout=60_000,
    )
    page.get_by_role("button", name="❚❚").click()
    shown = [m for m in range(12) if STRATEGIES[m % len(STRATEGIES)] == "austerity"][-1]  # where protests grow
    choose(page, "Municipality shown", re.compile(rf"{shown}: [^,]+, [0-9,]+ inhabitants, {strategy_label('austerity')}"))
    page.set_viewport_size({"width": 1500, "height": 2250})  # every view; the app scrolls inside its frame
    page.evaluate("document.querySelectorAll('*').forEach(element => element.scrollTop = 0)")  # from the top
    page.wait_for_timeout(2_000)
    screenshot = ROOT / os.environ[SCREENSHOT] if os.environ.get(SCREENSHOT) else tmp_path / "viz.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshot)
    assert screenshot.stat().st_size > 50_000
    assert page.errors == [] and page.outside == []


TILE_TEXT = """() => {
    const element = Array.from(document.querySelectorAll('.solara-echarts'))
        .find(e => e.__vue__ && e.__vue__.chart && e.__vue__.chart.getOption().series[0].type === 'heatmap');
    const chart = element.__vue__.chart, option = chart.getOption();
    const grid = option.grid[0], series = option.series[0];
    const tile = (chart.getWidth() - grid.left - grid.right) / option.xAxis[0].data.length;
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${series.label.fontSize}px sans-serif`;
    return {tile, labels: series.data.map(cell => ({name: cell.name, label: cell.label.formatter,
        widths: cell.label.formatter.split('\\n').map(line => context.measureText(line).width)}))};
}"""

WORDS_ON_ONE_LINE = """() => {
    const broken = [];
    for (const heading of document.querySelectorAll('.v-card__title, .v-toolbar__title, h1, h2, h3')) {
        const walker = document.createTreeWalker(heading, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.textContent.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const tops = new Set(Array.from(range.getClientRects()).map(rect => Math.round(rect.top)));
                if (tops.size > 1) broken.push(match[0]);
            }
        }
    }
    return broken;
}"""

OVERFLOWING = """() => Array.from(document.querySelectorAll('.v-card, .v-card__title, table'))
    .filter(element => element.scrollWidth > element.clientWidth + 1)
    .map(element => element.className || element.tagName)"""


@pytest.mark.slow
def test_week_0_is_shown_before_the_first_step(page):
    wait_for_charts(page)
    for title in TIME_SERIES:
        line = time_series(page, title)["series"][-1]["data"]
        assert len(line) == 1, title  # the start, before any week is simulated
        assert (line[0] is None) == (title == "Caseworker turnover"), title  # a rate over 13 weeks waits for them
    cells = tile_grid(page)["series"][0]["data"]
    assert len(cells) == 6 and all(cell["value"][2] > 0 for cell in cells)  # clients per 1,000 inhabitants, at the start
    table = page.locator("table").first.inner_text()
    clients = next(line for line in table.splitlines() if line.startswith("Clients"))
    assert float(clients.split("\t")[1].replace(",", "")) > 0
    assert page.get_by_text("No week simulated").count() == 0
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_tiles_name_each_municipality_whole_within_their_width(page):
    wait_for_charts(page)
    shown = page.evaluate(TILE_TEXT)
    assert len(shown["labels"]) == 6 and shown["tile"] > 30
    for tile in shown["labels"]:
        assert tile["label"].replace("\n", " ") == tile["name"]  # "Synthetic 01": whole, on two lines
        assert max(tile["widths"]) <= shown["tile"], tile  # no line wider than its tile
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_headings_break_between_words_and_nothing_overflows(page):
    wait_for_charts(page)
    titles = page.locator(".v-card__title").all_inner_texts()
    assert any("Model parameters (applied on Reset)" in " ".join(title.split()) for title in titles)
    assert page.evaluate(WORDS_ON_ONE_LINE) == []  # no "Re" / "set"
    assert page.evaluate(OVERFLOWING) == []
    sidebar_card = page.locator(".v-card", has_text="Model parameters").first.bounding_box()
    assert sidebar_card["width"] > 150 and sidebar_card["height"] > 100
    assert page.errors == []


@pytest.mark.slow
def test_a_comparison_config_opens_with_every_strategy_side_by_side(browser, tmp_path):
    with serving("configs/compare.toml", tmp_path) as address, opened(browser, address) as page:
        wait_for_charts(page)
        legend = time_series(page, "Trust in the jobcenter")["legend"][0]["data"]
        assert legend == [strategy_label(name) for name in STRATEGIES]
        expect(page.locator(".v-select", has_text="Strategy mix")).to_contain_text("every strategy in turn")
        header = page.locator("table").first.inner_text().splitlines()[0]
        assert all(strategy_label(name) in header for name in STRATEGIES)
        assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_a_bad_config_fails_before_the_server_starts_like_validate(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[council]\ncaseload_target = -3\n")
    viz, validate = abm("viz", str(bad), "--port", str(free_port())), abm("validate", str(bad))
    assert viz.returncode == validate.returncode == 2
    assert viz.stderr.removeprefix("abm viz: ") == validate.stderr.removeprefix("abm validate: ")
    assert "caseload_target" in viz.stderr and viz.stdout == ""


def test_a_port_in_use_gives_a_clear_message():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = abm("viz", "configs/baseline.toml", "--port", str(port))
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if not line.startswith("abm viz: warning:")]  # the config's own notes
    assert errors == [f"abm viz: error: port {port} on 127.0.0.1 is in use; choose another with --port"]
