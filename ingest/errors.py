"""Every error watchfloor raises on purpose.

One base class so callers (the CLI, the feed runner, the dashboard) can tell a
problem we diagnosed from a bug. Each message says what was expected and what
was found, naming the file, record or setting at fault.
"""

from __future__ import annotations


class WatchfloorError(Exception):
    """Base of every diagnosed error."""


class SchemaError(WatchfloorError):
    """A frame does not have the shape a layer requires."""

    def __init__(self, layer: str, expected: str, found: str) -> None:
        self.layer, self.expected, self.found = layer, expected, found
        super().__init__(f"layer {layer!r}: expected {expected}, found {found}")


class UnknownLayerError(WatchfloorError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown layer {name!r}: expected one of {', '.join(sorted(known))}")


class UnreadableInputError(WatchfloorError):
    """A whole file or feed response could not be read at all (not one bad record)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot read {self.path}: {reason}")


class HostileInputError(UnreadableInputError):
    """Input refused because it looks like an attack (XML entities, zip bombs, traversal)."""


class StoreError(WatchfloorError):
    """The store could not do what was asked (corrupt table, locked, bad query)."""


class StoreQueryError(StoreError):
    def __init__(self, what: str, expected: str, found: object) -> None:
        super().__init__(f"{what}: expected {expected}, found {found!r}")


class ConfigError(WatchfloorError):
    def __init__(self, setting: str, expected: str, found: object) -> None:
        self.setting = setting
        super().__init__(f"setting {setting}: expected {expected}, found {found!r}")


class UnsupportedOptionError(WatchfloorError):
    """An option the chosen reader cannot honour: refused, never silently ignored."""

    def __init__(self, fmt: str, option: str, why: str) -> None:
        self.fmt, self.option = fmt, option
        super().__init__(f"format {fmt!r} cannot use {option}: {why}")
