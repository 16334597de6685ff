"""How fast the browser app (``abm viz``) answers: first page and one Step, in headless Chromium.

Run from the repository root::

    .venv/bin/python benchmarks/viz_bench.py               # default config and all of Denmark
    .venv/bin/python benchmarks/viz_bench.py --steps 5 --only default

For each config it starts the real ``abm viz`` on a free 127.0.0.1 port, opens a fresh page
in Debian's Chromium (Playwright, as ``tests/test_viz_browser.py`` does) and measures:

- *first page*: from navigation until "Week 0 of" is shown and the server has sent its
  last update (the websocket quiet for ``QUIET`` seconds), i.e. every view drawn;
- *step*: from the click on *Step* until the new week is shown and the websocket is quiet
  again, i.e. every view redrawn. A Step is one week at the default config; above 50,000
  citizens the app steps several weeks per redraw (its own default), as reported.

The end of an update is the last websocket frame before the quiet period, so the quiet
wait itself is not counted. A step is also timed from the click's own websocket message
(``app``), leaving out Playwright's click. Prints medians (and min-max) of ``--steps`` steps.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
QUIET = 0.6  # seconds without a websocket frame: the update is complete
CONFIGS = {
    "default": [],  # configs/compare.toml: 12 municipalities at 1/10 scale
    "denmark": ["configs/denmark.toml", "--set", "municipalities.preset=denmark"],  # all 98 at full scale
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(arguments: list[str], log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "abm.cli", "viz", *arguments, "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    line = process.stdout.readline()
    address = f"http://127.0.0.1:{port}/"
    if address not in line:
        process.terminate()
        raise SystemExit(f"abm viz did not start: {line!r}")
    return process, address


class Frames:
    """The times of the last websocket frame the page received and of the last it sent."""

    def __init__(self, page):
        self.last = self.sent = time.perf_counter()
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framereceived", self._seen)
        ws.on("framesent", self._sent)

    def _seen(self, _payload) -> None:
        self.last = time.perf_counter()

    def _sent(self, _payload) -> None:
        self.sent = time.perf_counter()

    def settled(self, page, since: float) -> float:
        """Wait until no frame for ``QUIET`` s; seconds from ``since`` to the last frame."""
        while time.perf_counter() - self.last < QUIET:
            page.wait_for_timeout(50)
        return self.last - since


WEEK = "() => +(document.body.innerText.match(/Week (\\d+) of/) || [0, -1])[1]"


def measure(browser, address: str, steps: int) -> tuple[float, list[float], list[float], int]:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    frames = Frames(page)
    started = time.perf_counter()
    page.goto(address)
    page.get_by_text("Week 0 of").wait_for(timeout=180_000)
    first = frames.settled(page, started)
    times, app = [], []
    for _ in range(steps):
        before = page.evaluate(WEEK)
        clicked = time.perf_counter()
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(f"() => ({WEEK})() > {before}", timeout=120_000)
        times.append(frames.settled(page, clicked))
        app.append(times[-1] - (frames.sent - clicked))  # the click's message is the last one the page sent
    weeks = page.evaluate(WEEK)
    page.close()
    return first, times, app, weeks // steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps to time per config (default 10)")
    parser.add_argument("--only", choices=list(CONFIGS), help="measure one config only")
    args = parser.parse_args()
    with sync_playwright() as playwright, tempfile.TemporaryFile("w+") as log:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, arguments in CONFIGS.items():
            if args.only and name != args.only:
                continue
            server, address = start_server(arguments, log)
            try:
                first, times, app, weeks = measure(browser, address, args.steps)
            finally:
                server.terminate()
                server.wait(timeout=20)
            print(f"{name:8s} first page {first:6.2f} s   step median {statistics.median(times):6.3f} s "
                  f"(min {min(times):.3f}, max {max(times):.3f}, n={len(times)}, {weeks} week(s) per step); "
                  f"from the click's message: median {statistics.median(app):.3f} s", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
