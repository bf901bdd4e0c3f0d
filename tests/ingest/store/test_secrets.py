"""The store's connection string never shows its password: not in an exception's text (nor in the
exceptions chained to it), not in a logged traceback, not in what `watchfloor db` prints.

The failures are real: a port nothing listens on (127.0.0.1:1), URLs libpq refuses, and a URL whose
unescaped password libpq would read partly as a host or port (its own message would then quote it).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from ingest.errors import StoreError
from ingest.store.locks import AdvisoryLease
from ingest.store.postgis import PostGISStore, connect, redact, scrub, upgrade

ROOT = Path(__file__).resolve().parents[3]
SECRET = "Sekr1tPw0rd"
URLS = [
    f"postgresql://bob:{SECRET}@127.0.0.1:1/watchfloor",                 # nothing listens there
    f"postgresql://bob:{SECRET}%2Fx@127.0.0.1:1/watchfloor",              # percent-encoded, as it should be
    f"postgresql://bob:{SECRET}/x@127.0.0.1:1/watchfloor",                # unescaped '/': libpq misreads it
    f"postgresql://bob:{SECRET}@x@127.0.0.1:1/watchfloor",                # unescaped '@'
    f"postgresql://bob:{SECRET}@127.0.0.1:notaport/watchfloor",           # libpq refuses the port
    f"postgresql://bob:{SECRET}@127.0.0.1:1/watchfloor?sslmode=bogus",    # ... an option
    f"host=127.0.0.1 port=1 user=bob password={SECRET} dbname=watchfloor",  # key=value form
]


def _everything(exc: BaseException) -> str:
    """The exception as a traceback prints it: its text and every exception chained to it."""
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("url", URLS)
def test_a_failed_connection_never_shows_the_password(url, caplog):
    log = logging.getLogger("watchfloor.test")
    attempts = [lambda: connect(url), lambda: PostGISStore(url), lambda: upgrade(url),
                lambda: AdvisoryLease(url, "feed:x").holder()]
    for attempt in attempts:
        with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as info:
            attempt()
        log.exception("the store failed")  # what a feed runner or the dashboard does with it
        assert SECRET not in str(info.value) and SECRET not in repr(info.value)
        assert SECRET not in _everything(info.value)
        assert "127.0.0.1" in str(info.value) or "does not parse" in str(info.value)  # still says where
    assert SECRET not in caplog.text
    assert SECRET not in redact(url)


@pytest.mark.parametrize("url", URLS[:3])
def test_watchfloor_db_prints_no_password(url):
    env = {**os.environ, "WATCHFLOOR_STORE": url, "PYTHONPATH": str(ROOT)}
    for args in (["db", "status"], ["db", "upgrade"], ["db", "role", "list"], ["status"]):
        run = subprocess.run([sys.executable, "-m", "layers.cli", *args], env=env, capture_output=True, text=True,
                             timeout=120, check=False)
        assert run.returncode != 0, args
        assert SECRET not in run.stdout + run.stderr, (args, run.stderr)
        assert run.stderr.strip(), args  # a message, not silence


def test_scrub_takes_out_whatever_an_error_echoes():
    url = f"postgresql://bob:{SECRET}%21@db.example:5432/wf"
    for text in (f"IO: [libpq] Failed to connect to {url}", f"password={SECRET}! rejected",
                 f"password='{SECRET}!' rejected", f"postgresql://bob:{SECRET}!@db.example", f"{SECRET}%21"):
        assert SECRET not in scrub(text, url), text
    assert scrub("connection refused", url) == "connection refused"
    assert redact(url) == "db.example:5432/wf"
