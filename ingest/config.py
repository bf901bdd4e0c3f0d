"""Where watchfloor keeps its state, read from the environment once.

Zero configuration by default: everything lives under one folder,
`$WATCHFLOOR_HOME` (default `~/.watchfloor`), so an air-gapped laptop needs no
setup and a backup is a copy of one folder.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
REFERENCE_DIR = DATA_DIR / "reference"


def home() -> Path:
    path = Path(os.environ.get("WATCHFLOOR_HOME") or Path.home() / ".watchfloor").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_url() -> str | None:
    """`WATCHFLOOR_STORE`: unset for the embedded store, or a postgresql:// URL."""
    return os.environ.get("WATCHFLOOR_STORE") or None


def settings() -> dict:
    """`$WATCHFLOOR_HOME/watchfloor.toml`, if present: site settings (dashboard refresh, tile URL...)."""
    import tomllib

    path = home() / "watchfloor.toml"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def refresh_seconds() -> float:
    """How often the wall screen refreshes itself: WATCHFLOOR_REFRESH_S, else
    `[dashboard] refresh_seconds` in watchfloor.toml, else 30 s."""
    raw = os.environ.get("WATCHFLOOR_REFRESH_S") or settings().get("dashboard", {}).get("refresh_seconds", 30)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        from ingest.errors import ConfigError

        raise ConfigError("dashboard.refresh_seconds", "a number of seconds", raw) from None
    return max(2.0, value)


def log_level(default: int) -> int:
    """The level of the long-running processes' log: WATCHFLOOR_LOG_LEVEL (DEBUG, INFO, WARNING,
    ERROR), else `[logging] level` in watchfloor.toml, else ``default``. DEBUG adds one line per
    dashboard run with its server time; a name that is not a level is refused, not ignored."""
    import logging

    raw = os.environ.get("WATCHFLOOR_LOG_LEVEL") or settings().get("logging", {}).get("level")
    if raw is None:
        return default
    levels = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
    value = levels.get(str(raw).strip().upper())
    if value is None:
        from ingest.errors import ConfigError

        raise ConfigError("logging.level (or WATCHFLOOR_LOG_LEVEL)", "one of " + ", ".join(levels), raw)
    return value


def log_to_stderr(level: int) -> None:
    """Send the `watchfloor` loggers' lines at `level` and above to stderr, unless the embedding
    program configured logging already: the log of the long-running processes (feed runners,
    the dashboard server), where a takeover of a feed or of the alert evaluation is told."""
    import logging
    import sys

    logger = logging.getLogger("watchfloor")
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
