"""Rewrite tests/baseline/scenario.json from the model as it is now.

Run it only after a change meant to alter results, and commit the new file with a message
that says why; `git diff tests/baseline/` then shows every value that moved.

    PYTHONPATH=$PWD .venv/bin/python scripts/regenerate_baseline.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_regression_baseline as regression  # noqa: E402  (the test defines the scenario and its digest)


def main() -> None:
    regression.BASELINE.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(regression.current(), indent=1)
    # One line per list of values (a week's municipalities), so a diff shows the week that moved.
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
    regression.BASELINE.write_text(text + "\n")
    print(f"wrote {regression.BASELINE}")


if __name__ == "__main__":
    main()
