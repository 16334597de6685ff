"""SIGINT and SIGTERM as users and schedulers send them: the command stops, cleanly.

A terminal's Ctrl+C reaches a whole process group, but ``kill``, a batch scheduler or a
script signals one PID, and a shell starts a background command with SIGINT ignored (Python
then never raises KeyboardInterrupt). The command line (:func:`abm.cli.main`) therefore
installs its own handlers for both signals while a command runs (:func:`stopping`): either one raises
:class:`Stopped`, a KeyboardInterrupt, so every ``finally`` runs (the embedded Ray and a
child server are stopped, finished results are kept) and the command exits 130 (SIGINT)
or 143 (SIGTERM) with one line. Ray replaces these handlers with its own when it starts
(SIGTERM would print a native stack dump and skip the clean-up), so :mod:`abm.execution`
puts them back (:func:`ray_starting`). A second signal while the command is stopping is
ignored: the clean-up takes a few seconds and must not be cut short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_installed = False
_received: int | None = None  # the signal that stopped the command (Ray may re-raise it as a plain KeyboardInterrupt)


class Stopped(KeyboardInterrupt):
    """A signal asked the command to stop; ``exit_status`` is the shell's 128 + its number."""

    def __init__(self, number: int):
        super().__init__(signal.Signals(number).name)
        self.exit_status = 128 + number


@contextlib.contextmanager
def stopping() -> Iterator[None]:
    """Within, SIGINT or SIGTERM raises :class:`Stopped` in the main thread; the handlers
    before are restored after (a Python caller of :func:`abm.cli.main` keeps its own)."""
    global _installed, _received
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    before = {number: signal.getsignal(number) for number in SIGNALS}
    _installed, _received = True, None
    reinstall()
    try:
        yield
    finally:
        _installed = False
        for number, handler in before.items():
            signal.signal(number, handler)


def reinstall() -> None:
    """Put the handlers of :func:`stopping` back (Ray replaces them at its start); else nothing."""
    if _installed and threading.current_thread() is threading.main_thread():
        for number in SIGNALS:
            signal.signal(number, _stop)


@contextlib.contextmanager
def ray_starting() -> Iterator[None]:
    """Around the start of Ray: its handlers replace ours (its SIGTERM handler exits with status
    15 at once), so a SIGTERM while it starts is turned into :class:`Stopped`, and ours are put
    back after."""
    try:
        yield
    except SystemExit as exit:
        if _installed and exit.code == signal.SIGTERM:
            raise Stopped(signal.SIGTERM) from None
        raise
    finally:
        reinstall()


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl+C or SIGINT, 143 for SIGTERM (what a shell reports for a process they ended),
    by the signal received: Ray turns an exception raised while it waits into a plain KeyboardInterrupt."""
    if _received is not None:
        return 128 + _received
    return getattr(interrupt, "exit_status", 128 + signal.SIGINT)


def _stop(number: int, _frame) -> None:
    global _received
    _received = number
    for other in SIGNALS:
        signal.signal(other, signal.SIG_IGN)  # one stop; the clean-up runs to its end
    raise Stopped(number)
