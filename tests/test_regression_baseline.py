"""The model's results for one small fixed scenario, against a committed baseline.

`tests/baseline/scenario.json` holds the summary of one run and a digest of its weekly table
(a few columns per municipality at a few weeks). A change in behaviour fails here with a
readable diff of what moved, and the regenerated baseline then shows the same diff in
review. After an intended change, regenerate it with

    PYTHONPATH=$PWD .venv/bin/python scripts/regenerate_baseline.py

and say in the commit message why the results changed. Integers must match exactly, floats
to 1e-12 relative. The run's `config` (canonical JSON) and `abm_version` are left out: a new
parameter or version is not a change in behaviour. Outputs that the baseline does not know
yet are reported as a warning, not a failure, so adding an outcome does not need a new
baseline (regenerating records it).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

from abm.config import defaults
from abm.simulate import run_simulation

BASELINE = Path(__file__).resolve().parent / "baseline" / "scenario.json"
SEED = 1
# Small and short, but every strategy in one run, past the pilot's evaluation (78 weeks)
# and two budget cycles.
OVERRIDES = {
    "municipalities.count": 6,
    "municipalities.population_scale": 0.1,
    "run.weeks": 156,
    "council.strategy_mix": ["status_quo", "invest", "austerity", "pilot_then_scale", "responsive", "imitate"],
}
NOT_BEHAVIOUR = ("config", "abm_version")
WEEKS = (0, 1, 13, 52, 78, 104, 155)
COLUMNS = (
    "clients", "inflow", "exits_job", "exits_flexjob", "moved_in", "decisions", "caseworkers", "hires", "quits",
    "layoffs", "caseworker_changes", "protesters", "sick_pressed", "trust_mean", "caseload_mean", "stress_mean",
    "media_pressure", "net_cost",
)
RELATIVE = 1e-12


def current() -> dict:
    """The scenario run now: its summary and the weekly digest, as JSON would hold them."""
    result = run_simulation(defaults().with_overrides(OVERRIDES), SEED)
    summary = {key: value for key, value in result.summary.items() if key not in NOT_BEHAVIOUR}
    weekly = result.weekly.sort("week", "municipality")
    digest = {
        "rows": weekly.height,
        **{
            column: {str(week): weekly.filter(weekly["week"] == week)[column].to_list() for week in WEEKS}
            for column in COLUMNS
        },
    }
    return {"seed": SEED, "overrides": OVERRIDES, "summary": summary, "weekly": digest}


def same(expected, actual) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        if expected is None or actual is None:
            return expected is actual
        if math.isnan(expected) or math.isnan(actual):
            return math.isnan(expected) and math.isnan(actual)
        return math.isclose(expected, actual, rel_tol=RELATIVE, abs_tol=0.0)
    return type(expected) is type(actual) and expected == actual


def differences(expected, actual, where: str = "") -> list[str]:
    """One line per value that changed or disappeared (new keys are not differences)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for key, value in expected.items():
            if key not in actual:
                lines.append(f"{where}{key}: {value!r} -> missing")
            else:
                lines += differences(value, actual[key], f"{where}{key}.")
        return lines
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [line for i, (e, a) in enumerate(zip(expected, actual)) for line in differences(e, a, f"{where.rstrip('.')}[{i}]")]
    if same(expected, actual):
        return []
    change = ""
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and expected:
        change = f"  ({(actual - expected) / abs(expected):+.3g} relative)"
    return [f"{where.rstrip('.')}: {expected!r} -> {actual!r}{change}"]


def additions(expected: dict, actual: dict, where: str = "") -> list[str]:
    found = []
    for key, value in actual.items():
        if key not in expected:
            found.append(f"{where}{key}")
        elif isinstance(value, dict) and isinstance(expected[key], dict):
            found += additions(expected[key], value, f"{where}{key}.")
    return found


def test_the_model_reproduces_the_committed_baseline():
    expected = json.loads(BASELINE.read_text())
    actual = json.loads(json.dumps(current()))  # as the file would hold it
    assert actual["overrides"] == expected["overrides"] and actual["seed"] == expected["seed"], (
        "the scenario in this test differs from the baseline's: regenerate the baseline"
    )
    changed = differences(expected, actual)
    assert not changed, (
        f"{len(changed)} values differ from {BASELINE.relative_to(BASELINE.parents[2])} "
        "(expected -> now); if intended, run scripts/regenerate_baseline.py and say why in the commit:\n"
        + "\n".join(changed[:60]) + ("\n..." if len(changed) > 60 else "")
    )
    new = additions(expected, actual)
    if new:
        warnings.warn(f"outputs not in the baseline yet (regenerate to record them): {', '.join(new)}", stacklevel=1)


def test_the_comparison_reports_a_change_readably():
    """The diff names each changed value with both values, and a removed value."""
    expected = {"summary": {"clients": 10, "trust": 0.5, "gone": 1}, "weekly": {"x": {"0": [1, 2]}}}
    actual = {"summary": {"clients": 11, "trust": 0.5 * (1 + 1e-13), "new": 3}, "weekly": {"x": {"0": [1, 3]}}}
    assert differences(expected, actual) == [
        "summary.clients: 10 -> 11  (+0.1 relative)",
        "summary.gone: 1 -> missing",
        "weekly.x.0[1]: 2 -> 3  (+0.5 relative)",
    ]
    assert additions(expected, actual) == ["summary.new"]
    assert differences({"a": 1.0}, {"a": 1.0 + 1e-9}) and not differences({"a": None}, {"a": None})
