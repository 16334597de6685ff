"""One module per ``abm`` command, each with ``add_parser(subparsers)``.

Named here in the order ``abm --help`` lists them and imported when asked for: each imports
what its command needs (the model, Optuna, Solara ...), and a command line that runs one
command needs only that one's (:func:`abm.cli.build_parser`).
"""

import importlib

NAMES = ("run", "compare", "sweep", "validate", "viz", "check", "calibrate", "discover", "robustness", "optimise", "brief")


def modules(names: tuple[str, ...] = NAMES) -> list:
    """The modules of the commands ``names`` (default all), imported."""
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def __getattr__(name: str):
    if name == "COMMANDS":  # every command's module
        return modules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
