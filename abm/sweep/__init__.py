"""Sweeps: many runs from an experiment file, in parallel on Ray, resumable.

``experiment`` says which runs (and validates the file), :mod:`abm.execution` runs them
(in this process or on Ray, as it runs ``abm compare``'s), ``store`` keeps the results
folder, ``analysis`` makes the tables and plots, and ``driver`` ties them together. From Python::

    from abm.sweep import load_experiment, run_sweep
    store, summary, failures = run_sweep(load_experiment("experiments/caseload_sweep.toml"), workers=2)
"""

from abm.sweep.driver import run_sweep
from abm.sweep.experiment import Experiment, load_experiment

__all__ = ["Experiment", "load_experiment", "run_sweep"]
