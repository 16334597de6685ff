"""``abm viz`` as a researcher uses it: the real server, driven by a real headless Chromium.

The browser is Debian's ``chromium`` (installed by ``.ci/run``), driven in real time by
Playwright, because Solara renders the page over a websocket. The play test saves a
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

import pytest
from playwright.sync_api import expect, sync_playwright

from abm.strategies import names

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SMALL = ["--set", "municipalities.count=6", "--set", "municipalities.population_scale=0.2"]
SCREENSHOT = "ABM_SCREENSHOT"  # environment variable: where to save the play test's screenshot
VIEWS = 7  # five time series, the caseload histogram, the network
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
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server)
    wait_for_week(page, 0, seconds=60)
    yield page
    page.close()


def plots(page):
    return page.locator(".vue-grid-item img")


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
def test_page_loads_with_its_plots_and_no_console_errors(page):
    drawn = f"Array.from(document.querySelectorAll('.vue-grid-item img')).filter(i => i.naturalWidth > 300).length >= {VIEWS}"
    page.wait_for_function(drawn, timeout=30_000)
    assert page.get_by_text("Strategy of every council").first.is_visible()
    time.sleep(1)  # late resource errors would arrive now
    assert page.errors == []


@pytest.mark.slow
def test_step_advances_the_week_and_changes_the_plots(page):
    step(page, 1)
    step(page, 2)
    before = [plot.get_attribute("src") for plot in plots(page).all()]
    step(page, 3)
    page.wait_for_timeout(1_000)  # the new PNGs replace the old ones just after the text
    after = [plot.get_attribute("src") for plot in plots(page).all()]
    assert len(before) == len(after) == VIEWS
    unchanged = [i for i, (new, old) in enumerate(zip(after, before)) if new == old]
    assert unchanged == [], "every plot is redrawn with the new week's data"
    assert page.errors == []


@pytest.mark.slow
def test_changing_controls_and_reset_rebuilds_the_model(page):
    every_strategy_in_twelve_municipalities(page)
    assert "Strategy mix (overrides it): " + ", ".join(STRATEGIES) in page.get_by_text("Municipalities: 12").inner_text()
    step(page, 1)
    table = page.locator("table").first.inner_text()
    for strategy in STRATEGIES:
        assert strategy.replace("_", " ") in table
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
    slide(page, "Render Interval", 1, 5, presses=2)  # plots redrawn every 5 weeks
    page.get_by_role("button", name="▶").click()
    page.wait_for_function(
        "() => { const shown = document.body.innerText.match(/Week (\\d+) of/); return shown && +shown[1] >= 40 }",
        timeout=60_000,
    )
    page.get_by_role("button", name="❚❚").click()
    shown = [m for m in range(12) if STRATEGIES[m % len(STRATEGIES)] == "austerity"][-1]  # where protests grow
    choose(page, "Municipality shown", re.compile(rf"{shown}: [0-9,]+ inhabitants, austerity"))
    page.set_viewport_size({"width": 1500, "height": 1780})  # every view; the app scrolls inside its frame
    page.wait_for_timeout(2_000)
    screenshot = ROOT / os.environ[SCREENSHOT] if os.environ.get(SCREENSHOT) else tmp_path / "viz.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshot)
    assert screenshot.stat().st_size > 50_000
    assert page.errors == []


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
