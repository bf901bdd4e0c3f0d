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
