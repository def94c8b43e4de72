"""Errors that stand for bad input (a file, a line, a config key): reported in one line."""

from __future__ import annotations


class ZeloError(Exception):
    """Bad input the user can fix; the message names the file, line or config key."""


class ConfigError(ZeloError, ValueError):
    """A config value that cannot work (the message names the key)."""
