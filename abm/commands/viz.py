"""``abm viz [CONFIG]``: watch a run in the browser (Mesa's SolaraViz on 127.0.0.1).

The config is validated here, and its memory checked as ``abm run`` checks it, before the
server starts, so a mistake ends in the same one-line error as ``abm validate``; the server
(:mod:`abm.viz.serve`: Solara's, admitting its own page only) runs as a child process that
gets the config through environment variables. Served on an address other than loopback,
a warning says who can drive the app. SIGINT or SIGTERM stops the server and the command
(:mod:`abm.signals`).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import subprocess
import sys
import time

from abm.commands.common import DEFAULT_CONFIG, add_config_arguments
from abm.config import load_config
from abm.errors import UserError
from abm.resources import check_memory
from abm.viz import CONFIG_ENV, OVERRIDES_ENV
from abm.viz.serve import is_loopback

STARTUP_SECONDS = 120
DESCRIPTION = """\
Serves a browser app (Mesa's SolaraViz) at http://127.0.0.1:8765/ that steps a run of
CONFIG (default configs/compare.toml) week by week: the municipalities as tiles, charts of
the outcomes, the parameters to change and Reset. Writes nothing; starts in about 10-20
seconds and serves until Ctrl+C.

exit status: 0 the server ended by itself (else its status); 130 stopped with Ctrl+C or
SIGINT, 143 with SIGTERM; 2 a mistake in the config or the port (one line)."""
STOP_SECONDS = 5  # the server's grace to stop, after which it is killed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("viz", help="watch a run in the browser (Mesa SolaraViz)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, config_required=False)
    parser.add_argument("--port", type=int, default=8765, help="port to serve on (default 8765)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, this machine only; anyone who reaches another can drive the app)")
    parser.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    path = str(args.config or DEFAULT_CONFIG)
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not allowed: expected a port number from 1 to 65535")
    overrides = list(args.overrides) + ([f"run.seed={args.seed}"] if args.seed is not None else [])
    config = load_config(path, args.overrides, seed=args.seed)
    check_memory([config], force=args.force, origin=path)
    check_port_free(args.host, args.port)
    environment = os.environ | {
        CONFIG_ENV: os.path.abspath(path),
        OVERRIDES_ENV: json.dumps(overrides),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no calls home from machines without internet
        # Mesa 3.3's own components trip Solara's hook check; plain http trips its cookie check:
        "PYTHONWARNINGS": "ignore::UserWarning:solara.validate_hooks,ignore::UserWarning:solara.server.starlette",
    }
    if not is_loopback(args.host):
        print(f"abm viz: warning: serving on {args.host}, not on this machine only: anyone who can reach "
              f"{args.host}:{args.port} can drive the app (change its parameters and run the model)", file=sys.stderr)
    command = [sys.executable, "-m", "abm.viz.serve", args.host, str(args.port)]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    try:
        wait_until_serving(server, args.host, args.port)
        print(f"abm viz: serving {path} at http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
        return server.wait()
    except KeyboardInterrupt as interrupt:  # Ctrl+C, SIGINT or SIGTERM (abm.signals): the usual way to end
        interrupt.add_note("the browser app stopped (it writes nothing)")  # the line the command line prints
        raise
    finally:  # the server stops with the command
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """End the server: asked first, killed after ``STOP_SECONDS``."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def check_port_free(host: str, port: int) -> None:
    """Fail with a clear message, before anything starts, if the port cannot be bound."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: only a listener blocks
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise UserError(f"port {port} on {host} is in use; choose another with --port") from None
            raise UserError(f"cannot serve on {host}:{port}: {error.strerror}") from None


def wait_until_serving(server: subprocess.Popen, host: str, port: int) -> None:
    """Return once the server accepts connections; fail if it exits first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise UserError(f"the browser server stopped while starting (exit status {server.returncode}); see above")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise UserError(f"the browser server did not start within {STARTUP_SECONDS} s")
