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

import os
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

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
TIME_SERIES = ("Trust in the jobcenter", "Caseworker turnover", "Protests", "Unemployment", "Net cost")
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``abm viz`` on a free loopback port; yields its address, stops it at the end.

    Its stderr goes to a file (a pipe nobody reads could fill up and stall the server).
    """
    port = free_port()
    log = tmp_path_factory.mktemp("viz") / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "abm.cli", "viz", "configs/baseline.toml", "--port", str(port), *SMALL],
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
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(server, browser):
    """A fresh page on the app (a new session, so a new model); records console errors."""
    page = browser.new_page(viewport={"width": 1500, "height": 950}, accept_downloads=True)
    page.errors, page.outside = [], []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: (page.outside.append(route.request.url), route.abort()))
    page.goto(server)
    wait_for_week(page, 0, seconds=60)
    yield page
    page.close()


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
        assert len(option["series"][-1]["data"]) == 3  # weeks 0-2
    assert page.errors == [] and page.outside == []


@pytest.mark.slow
def test_tile_grid_shows_every_municipality_coloured_by_the_chosen_outcome(page):
    wait_for_charts(page)
    step(page, 1)
    page.wait_for_timeout(500)
    tiles = tile_grid(page)
    assert tiles["title"][0]["text"] == "Unemployment, week 1"
    assert tiles["series"][0]["type"] == "heatmap"
    cells = tiles["series"][0]["data"]
    assert len(cells) == 6 and len({tuple(cell["value"][:2]) for cell in cells}) == 6  # a tile each, none on another
    assert all(cell["value"][2] > 0 for cell in cells)  # clients per 1,000 inhabitants
    assert tiles["visualMap"][0]["min"] == min(cell["value"][2] for cell in cells)
    choose(page, "Colour the tiles by", "Protests")
    page.wait_for_function(f"() => ({CHART_OPTIONS})().some(o => o && o.title[0].text.startsWith('Protests, week 1'))")
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
    assert table.height == 2 * (6 + 1)  # two weeks of six municipalities and one strategy
    unemployment = time_series(page, "Unemployment")["series"][-1]["data"]
    column = next(name for name in table.columns if name.startswith("Unemployment ("))
    shown = table.filter(pl.col("level") == "strategy").sort("week")[column].to_list()
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
    assert done.stderr.strip() == f"abm viz: error: port {port} on 127.0.0.1 is in use; choose another with --port"
