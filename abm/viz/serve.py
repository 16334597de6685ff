"""The browser app's server: Solara's Starlette app behind a guard that admits its own page only.

``abm viz`` runs ``python -m abm.viz.serve HOST PORT``: Solara's server for :mod:`abm.viz.app`
(as ``solara run --production`` would start it), wrapped in :class:`OwnPageOnly`. Without the
guard any web page the researcher opens could open the app's WebSocket and drive it
(cross-site WebSocket hijacking), and a site whose name resolves to 127.0.0.1 could read it
(DNS rebinding). The guard refuses, before Solara sees them, an HTTP request (403) or a
WebSocket upgrade (closed before it is accepted, so no 101) whose ``Host`` is not an
address of this server, or whose ``Origin``, when a browser sends one, is not the page's own.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any, Callable

from abm.execution import end_with_parent

APP = "abm.viz.app"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether serving on ``host`` is serving this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def served_hosts(host: str, port: int) -> Callable[[str], bool]:
    """Which ``Host`` headers name this server: the bound address (with the port), every
    loopback name when serving on loopback, and, bound to every interface, any IP address or
    this machine's own names (a domain name that merely resolves here is a rebinding attack)."""
    def bracketed(name: str) -> str:
        return f"[{name}]" if ":" in name and not name.startswith("[") else name

    names = {bracketed(host)} | (set(LOOPBACK_NAMES) if is_loopback(host) else set())
    if _is_wildcard(host):
        names |= set(LOOPBACK_NAMES) | {socket.gethostname(), socket.getfqdn()}

    def allowed(header: str) -> bool:
        name, separator, given_port = header.rpartition(":")
        if not separator or not given_port.isdigit():  # no port given: the scheme's (http: 80)
            name, given_port = header, "80"
        if given_port != str(port):
            return False
        if name in names:
            return True
        if _is_wildcard(host):
            try:
                ipaddress.ip_address(name.strip("[]"))
                return True
            except ValueError:
                return False
        return False

    return allowed


class OwnPageOnly:
    """ASGI middleware: pass a request on only if its Host names this server and its Origin (if any) is that page."""

    def __init__(self, app: Any, host: str, port: int):
        self.app = app
        self.allowed_host = served_hosts(host, port)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] in ("http", "websocket") and not self.admits(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403, not 101
            else:
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await send({"type": "http.response.body", "body": b"abm viz serves its own page only\n"})
            return
        await self.app(scope, receive, send)

    def admits(self, scope: dict) -> bool:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self.allowed_host(host):
            return False
        origin = headers.get("origin")
        return origin is None or origin == f"http://{host}"


def main(host: str, port: int) -> None:
    """Serve the app as ``solara run abm.viz.app --production`` would, behind :class:`OwnPageOnly`,
    until ``abm viz`` stops it or ends (even killed)."""
    end_with_parent()
    os.environ["SOLARA_APP"] = APP  # read by Solara's server when it loads the app
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    import uvicorn
    from solara.__main__ import LOGGING_CONFIG
    from solara.server import settings

    settings.main.mode = "production"
    from solara.server.starlette import app

    uvicorn.run(OwnPageOnly(app, host, port), host=host, port=port, log_config=LOGGING_CONFIG, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
