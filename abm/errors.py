"""Errors a user can cause and fix themselves.

The command line turns a :class:`UserError` into one clear message and a non-zero exit,
never a traceback; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input (config, experiment, command line, paths)."""


class ConfigError(UserError):
    """A config or experiment file, or an override, that does not validate."""
