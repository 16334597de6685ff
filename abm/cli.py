"""The ``abm`` command line: ``run``, ``compare``, ``sweep``, ``viz``, ``validate`` and the analyses.

Every user mistake (a bad config, a path that cannot be written ...) ends in one clear
message on stderr and exit status 2, never a traceback. An interruption (Ctrl+C) exits
130 with a line saying what was kept (:mod:`abm.output`); output piped into a reader that
stops early (``| head``) ends quietly. Each command lives in its own
module (:mod:`abm.commands`) and registers itself through ``add_parser``; this module
only assembles them, so nothing imports it back.

``abm compare`` on an embedded Ray starts Ray first, in the background, and imports the
command (and with it the model) while Ray starts (:func:`abm.execution.start_early`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import warnings

from abm import execution, signals
from abm.errors import UserError, cut

LONGEST_MESSAGE = 2000
EARLY_RAY_COMMANDS = ("compare",)  # the main job: its runs start at once, on an embedded Ray by default
EXIT_STATUSES = """exit status: 0 done; 1 done, but a run failed or a target was missed (see each command);
2 a mistake in the input, nothing written; 130 interrupted (Ctrl+C), with a line saying what was kept.
Each command's --help says what it does, what it writes and roughly how long it takes."""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser: of every command, or of only the one ``argv`` names (it
    imports only what that command needs: seconds fewer, while Ray starts)."""
    from abm import commands

    parser = argparse.ArgumentParser(prog="abm", description="Municipal jobcenters under council investment strategies.",
                                     epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands.modules((argv[0],) if argv and argv[0] in commands.NAMES else commands.NAMES):
        command.add_parser(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` and return its exit status; without ``argv``, run this
    process's command line and end the process (:func:`exit_now`). Only for this process's
    own command line does Ray start early and the process end without Python's teardown: a
    Python caller that passes ``argv`` has imported the commands already, and keeps its
    process to itself."""
    if argv is None:
        exit_now(run(sys.argv[1:], early_ray_workers(sys.argv[1:])))
    return run(list(argv))


def exit_now(status: int) -> None:
    """End this process with ``status`` once its command has returned: the exit handlers run
    (the Ray token's folder is removed, temporary folders too), the output is flushed, and
    Python's own teardown, which frees every module and object one by one (1-3 s with the
    model, Ray and matplotlib loaded), is skipped: every file was written and closed, Ray
    stopped, so nothing is lost by not waiting for it."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError):  # the reader stopped early (`| head`): nothing to keep
            stream.flush()
    os._exit(status)


def run(argv: list[str], workers: int | None = None) -> int:
    """The command in ``argv``, on an embedded Ray of ``workers`` CPUs started at once if given."""
    command = argv[0] if argv else ""
    try:
        with signals.stopping(), warnings.catch_warnings():
            try:
                if workers is not None:
                    execution.start_early(workers)
                args = build_parser(argv).parse_args(argv)
                signals.reinstall()  # the command's imports may install their own (the browser app's do)
                execution.wait_early()  # Ray's start changes the working folder for a moment: the input is read after
                warnings.showwarning = _one_line_warning(args.command)
                return int(args.handler(args) or 0)
            finally:
                execution.end_early()  # unless the command took it: a mistake in the input, Ctrl+C
    except UserError as error:
        print(f"abm {command}: error: {cut(str(error), LONGEST_MESSAGE)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        kept = getattr(interrupt, "__notes__", None)
        print(f"abm {command}: interrupted" + (f"; {kept[-1]}" if kept else ""), file=sys.stderr)
        return signals.exit_status(interrupt)
    except BrokenPipeError:
        # the reader of our output stopped early (`abm validate --show | head`): end quietly,
        # and keep Python from failing again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a process ended by SIGPIPE


class _QuietParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ValueError(message)


def early_ray_workers(argv: list[str]) -> int | None:
    """The CPUs of the embedded Ray the command in ``argv`` will start, read before the
    commands are imported so that Ray can start meanwhile; None if it may start none (another
    command, ``--workers 1``, ``--address``, ``--help``, or options this quick look cannot
    read: the command's own parser then says what is wrong). A wrong guess costs time, not
    results: an executor of another size stops this Ray and starts its own."""
    look = _QuietParser(add_help=False, allow_abbrev=False)
    look.add_argument("command", nargs="?")
    look.add_argument("--workers", type=int)
    look.add_argument("--address")
    look.add_argument("-h", "--help", action="store_true")
    try:
        known, _ = look.parse_known_args(argv)
    except ValueError:
        return None
    workers = known.workers or os.cpu_count() or 1
    if known.command not in EARLY_RAY_COMMANDS or known.help or known.address is not None or workers == 1:
        return None
    return workers


def _one_line_warning(command: str):
    """Warnings (a config's small municipalities) as one line under the command's name, like its errors."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"abm {command}: warning: {filename}: {cut(str(message), LONGEST_MESSAGE)}", file=sys.stderr)
    return show


if __name__ == "__main__":
    sys.exit(main())
