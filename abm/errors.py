"""Errors a user can cause and fix themselves, and how their messages show what was given.

The command line turns a :class:`UserError` into one clear message and a non-zero exit,
never a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Iterable


class UserError(Exception):
    """A mistake in the user's input (config, experiment, command line, paths)."""


class ConfigError(UserError):
    """A config or experiment file, or an override, that does not validate."""


LONGEST = 200
"""Characters of a value a message quotes; the middle of a longer one is cut."""


def cut(text: str, longest: int = LONGEST) -> str:
    """``text``, its middle cut to keep a message one readable line (a 100,000-character name)."""
    text = str(text)
    if len(text) <= longest:
        return text
    half = (longest - 30) // 2
    return f"{text[:half]}...({len(text) - 2 * half:,} characters cut)...{text[-half:]}"


def show(value: Any) -> str:
    """A value as the user wrote it in TOML or JSON (``"ten"``, ``[1, 2]``), for messages (cut if long)."""
    if value is None:
        return "nothing"
    try:
        return cut(json.dumps(value))
    except (TypeError, ValueError, RecursionError):
        return cut(repr(value))


def suggest(word: Any, options: Iterable[str], prefix: str = "") -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options`` to a misspelt ``word``, else ''."""
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {prefix + close[0]!r}?)" if close else ""
