"""``abm viz`` accepts its own page only: the real server, spoken to as a hostile page would.

A web page on another site, open in the researcher's browser, can send requests to
127.0.0.1 and open WebSockets there; browsers label them with that site's ``Origin``. A
site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own name as ``Host``.
Both must be refused, the WebSocket before its upgrade (no ``101 Switching Protocols``),
while the page's own requests pass.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from test_viz_browser import SMALL, abm, free_port, read_line, server  # noqa: F401  (server: the running app)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
HUGE = ["--set", "municipalities.sizes=[" + ", ".join(["10000000"] * 98) + "]", "--set", "municipalities.population_scale=10"]


def request(address: str, lines: list[str]) -> str:
    """The status line the server answers a raw HTTP/1.1 request with."""
    host, port = address.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return connection.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def websocket_upgrade(address: str, origin: str, host: str | None = None) -> str:
    own_host = address.removeprefix("http://").rstrip("/")
    return request(address, [
        "GET /jupyter/api/kernels/probe/channels?session_id=probe HTTP/1.1", f"Host: {host or own_host}",
        "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", f"Origin: {origin}"])


def test_a_websocket_from_another_origin_gets_no_upgrade(server):  # noqa: F811
    own = server.rstrip("/")
    assert " 101 " in websocket_upgrade(server, own)  # the page's own socket is upgraded
    assert " 403 " in websocket_upgrade(server, "http://evil.example")
    assert " 403 " in websocket_upgrade(server, "null")  # a sandboxed frame or a file:// page
    port = own.rsplit(":", 1)[1]
    assert " 403 " in websocket_upgrade(server, f"http://rebound.example:{port}", host=f"rebound.example:{port}")


def test_http_from_another_site_or_name_is_refused(server):  # noqa: F811
    own_host = server.removeprefix("http://").rstrip("/")
    port = own_host.rsplit(":", 1)[1]
    assert " 200 " in request(server, ["GET / HTTP/1.1", f"Host: {own_host}"])
    assert " 200 " in request(server, ["GET / HTTP/1.1", f"Host: localhost:{port}"])
    assert " 403 " in request(server, ["GET / HTTP/1.1", f"Host: rebound.example:{port}"])
    assert " 403 " in request(server, ["POST /_solara/api/close/probe HTTP/1.1", f"Host: {own_host}",
                                       "Origin: http://evil.example", "Content-Length: 0"])


def non_loopback_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not ipaddress.ip_address(address.address).is_loopback:
                return address.address
    return None


def test_serving_beyond_this_machine_warns_and_still_checks_the_origin():
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no network address other than loopback")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "abm.cli", "viz", "configs/baseline.toml", "--host", address,
                                "--port", str(port), *SMALL], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert f"http://{address}:{port}/" in read_line(process, 90)
        served = f"http://{address}:{port}/"
        assert " 200 " in request(served, ["GET / HTTP/1.1", f"Host: {address}:{port}"])
        assert " 403 " in websocket_upgrade(served, "http://evil.example")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    warning = [line for line in stderr.splitlines() if "warning" in line and "too small to mean much" not in line]  # not the config's own note
    assert len(warning) == 1 and f"{address}" in warning[0] and "anyone who can reach" in warning[0]
    assert "drive the app" in warning[0]


def test_the_memory_check_is_the_same_as_run():
    viz = abm("viz", "configs/baseline.toml", "--port", str(free_port()), *HUGE)
    run = abm("run", "configs/baseline.toml", *HUGE)
    assert viz.returncode == run.returncode == 2 and viz.stdout == ""
    available = re.compile(r"[\d.]+ GiB is available")  # the free memory moves between the two commands
    assert available.sub("", viz.stderr.removeprefix("abm viz: ")) == available.sub("", run.stderr.removeprefix("abm run: "))
    assert "GiB of memory" in viz.stderr and "--force" in viz.stderr
