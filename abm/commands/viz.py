"""``abm viz [CONFIG]``: watch a run in the browser (Mesa's SolaraViz on 127.0.0.1).

The config is validated here, before the server starts, so a mistake ends in the same
one-line error as ``abm validate``; the server (``solara run abm.viz.app``) runs as a
child process that gets the config through environment variables.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

from abm.commands.common import DEFAULT_CONFIG, add_config_arguments
from abm.config import load_config
from abm.errors import UserError
from abm.viz import CONFIG_ENV, OVERRIDES_ENV

STARTUP_SECONDS = 120
DESCRIPTION = """\
Serves a browser app (Mesa's SolaraViz) at http://127.0.0.1:8765/ that steps a run of
CONFIG (default configs/compare.toml) week by week: the municipalities as tiles, charts of
the outcomes, the parameters to change and Reset. Writes nothing; starts in about 10-20
seconds and serves until Ctrl+C.

exit status: 0 stopped with Ctrl+C; 2 a mistake in the config or the port (one line)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("viz", help="watch a run in the browser (Mesa SolaraViz)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, config_required=False)
    parser.add_argument("--port", type=int, default=8765, help="port to serve on (default 8765)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    path = str(args.config or DEFAULT_CONFIG)
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not allowed: expected a port number from 1 to 65535")
    overrides = list(args.overrides) + ([f"run.seed={args.seed}"] if args.seed is not None else [])
    load_config(path, args.overrides, seed=args.seed)
    check_port_free(args.host, args.port)
    environment = os.environ | {
        CONFIG_ENV: os.path.abspath(path),
        OVERRIDES_ENV: json.dumps(overrides),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no calls home from machines without internet
        # Mesa 3.3's own components trip Solara's hook check; plain http trips its cookie check:
        "PYTHONWARNINGS": "ignore::UserWarning:solara.validate_hooks,ignore::UserWarning:solara.server.starlette",
    }
    command = [sys.executable, "-m", "solara", "run", "abm.viz.app", "--host", args.host, "--port", str(args.port),
               "--production", "--no-open", "--no-check-version"]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run `finally`: stop the server too
    try:
        wait_until_serving(server, args.host, args.port)
        print(f"abm viz: serving {path} at http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        print("abm viz: stopped")
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


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
