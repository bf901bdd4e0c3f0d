"""Shared fixtures: stores under test, the demo loaded once, a live dashboard, a browser.

`WATCHFLOOR_REQUIRE_SYSTEM=1` (set by .ci/run) turns a missing system
component (Chromium, PostgreSQL) from a skip into a failure, so CI cannot go
green by skipping what it was meant to check.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = ROOT / "test-artifacts"
# The demo ends at the start of the test run: the dashboard reads the real clock, so a demo
# fixed to a calendar date would drift out of its time windows on another day.
DEMO_NOW = datetime.now(UTC).replace(second=0, microsecond=0)
# As under `watchfloor up`: a separate process evaluates the alerts, not the dashboards under test
# (fixtures evaluate once, so what the tests read does not change under them).
os.environ.setdefault("WATCHFLOOR_ALERTS_IN_DASHBOARD", "0")


# Accounts of the test homes. Test-only passwords; the users file holds only their argon2 hashes.
TEST_PASSWORD = "correct horse battery staple"
TEST_USERS: dict[str, dict[str, str]] = {
    # GBR SECRET administrator: every demo marking is releasable to GBR, so this account sees the whole demo.
    "admin": {"nation": "GBR", "clearance": "SECRET", "role": "administrator"},
    "gbr.analyst": {"nation": "GBR", "clearance": "SECRET", "role": "analyst"},
    "fra.analyst": {"nation": "FRA", "clearance": "RESTRICTED", "role": "analyst"},
    "usa.viewer": {"nation": "USA", "clearance": "SECRET", "role": "viewer"},
    "ukr.viewer": {"nation": "UKR", "clearance": "SECRET", "role": "viewer"},
}


def add_test_users(home: Path, users: dict[str, dict[str, str]] | None = None, *,
                   store_url: str | None = None) -> None:
    """The test accounts in ``home``'s users.toml, or with ``store_url`` in that PostGIS store's
    accounts table (where every dashboard on that store reads them)."""
    from layers.access import add_user

    with pytest.MonkeyPatch.context() as mp:
        if store_url:
            mp.setenv("WATCHFLOOR_STORE", store_url)
        for name, spec in (users or TEST_USERS).items():
            add_user(None if store_url else home / "users.toml", name, TEST_PASSWORD, display_name=name.title(),
                     **spec)


def session_for(home: Path, username: str):
    """A signed-in session for a test account, as the sign-in form would store it."""
    from layers.access import load_users, start_session

    return start_session(load_users(home / "users.toml")[username].viewer())


def sign_in(page, url: str, user: str = "admin", password: str = TEST_PASSWORD) -> None:
    """Open ``url`` in a Playwright page and sign in through the form, as a person would."""
    page.goto(url)
    page.locator("input[aria-label='Username']").fill(user, timeout=90_000)
    page.locator("input[type='password']").fill(password)
    page.get_by_role("button", name="Sign in").click()


def canvas_drawn(png: bytes) -> bool:
    """More than a flat background: many distinct colours, no single colour covering it all."""
    from io import BytesIO

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img // 16, axis=0, return_counts=True)
    return len(colours) > 20 and counts.max() / len(img) < 0.95


def wait_until_drawn(page, timeout_s: float = 90.0) -> None:
    """Until no cached builder is still running (spinner) and the map canvas shows a picture:
    polled with a deadline, never a fixed sleep."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = page.locator("[data-testid='stSpinner']").count()
        canvas = page.query_selector("#deckgl-overlay, canvas")
        box = canvas.bounding_box() if canvas is not None else None
        # a clip of the page, not an element screenshot: a map redrawn by a refresh is never "stable"
        if not running and box and box["width"] > 10 and box["height"] > 10 and \
                canvas_drawn(page.screenshot(clip=box, timeout=120_000)):
            return
        page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"not-drawn-{int(time.time())}.png"
    page.screenshot(path=str(shot), timeout=120_000)
    raise AssertionError(f"the map was not drawn in time (page as it was: {shot})")


def require_system(what: str, available: bool) -> None:
    if available:
        return
    if os.environ.get("WATCHFLOOR_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"{what} is required (WATCHFLOOR_REQUIRE_SYSTEM=1) but is not installed")
    pytest.skip(f"{what} not installed")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """WATCHFLOOR_TEST_POSTGRES: a PostgreSQL database with PostGIS the tests may create schemas in
    (`.ci/run` starts a throwaway cluster; see tests/ingest/store/test_postgis.py for a local one)."""
    url = os.environ.get("WATCHFLOOR_TEST_POSTGRES")
    problem = "WATCHFLOOR_TEST_POSTGRES is not set"
    if url:
        import psycopg

        from ingest.errors import StoreError
        from ingest.store.postgis import connect

        try:
            with connect(url) as conn:
                conn.execute("SELECT postgis_version()")
            problem = ""
        except StoreError as exc:  # unreachable
            problem = str(exc)
        except psycopg.Error as exc:  # no PostGIS in that database
            problem = f"{type(exc).__name__}: {exc}"
    require_system(f"PostgreSQL with PostGIS ({problem})" if problem else "PostgreSQL", not problem)
    return url


@pytest.fixture
def postgis_url(postgres_url):
    """A fresh, empty schema of the test database (dropped afterwards), as a store URL; not migrated."""
    import uuid

    from ingest.store.postgis import connect, with_schema

    schema = f"wf_test_{uuid.uuid4().hex[:12]}"
    with connect(postgres_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield with_schema(postgres_url, schema)
    with connect(postgres_url) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["delta", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request, tmp_path):
    """A fresh, empty store of each backend; store tests run against all of them."""
    if request.param == "delta":
        from ingest.store.delta import DeltaStore

        yield DeltaStore(tmp_path / "store")
    elif request.param == "postgis":
        from ingest.store.postgis import PostGISStore, upgrade

        url = request.getfixturevalue("postgis_url")
        upgrade(url)
        s = PostGISStore(url)
        yield s
        s.close()
    else:
        raise AssertionError(request.param)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A WATCHFLOOR_HOME with the demo scenario loaded through the ingest path, once per run."""
    from ingest.demo import load_demo
    from ingest.store.delta import DeltaStore

    home = tmp_path_factory.mktemp("demo-home")
    store = DeltaStore(home / "store")
    summaries = load_demo(store, now=DEMO_NOW, workdir=home / "demo-inputs")
    from layers.alerts.refresh import refresh_alerts

    refresh_alerts(store, now=DEMO_NOW)
    (home / "summaries.txt").write_text("\n".join(f"{s.source}\t{s.layer}\t{s.read}\t{s.stored}\t{s.quarantined}\t"
                                                  f"{s.superseded}" for s in summaries))
    add_test_users(home)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(home: Path, *args: str, port: int | None = None, **env: str) -> tuple[str, subprocess.Popen]:
    """A real Streamlit server over ``home``'s store (or ``WATCHFLOOR_STORE=...`` in ``env``), on a
    loopback port; returns (url, process). ``args`` are more `streamlit run` options (e.g.
    ``--secrets.files``); its log is ``home/streamlit.log``."""
    port = port or free_port()
    environ = {**os.environ, "WATCHFLOOR_HOME": str(home)}
    environ.pop("WATCHFLOOR_STORE", None)  # the embedded store under ``home``, unless ``env`` names one
    environ.update(env)
    log = open(home / "streamlit.log", "w")  # noqa: SIM115  (the server writes to it as long as it runs)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true", *args],
        cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_streamlit(url, proc, home / "streamlit.log", "dashboard")
    return url, proc


def wait_for_streamlit(url: str, proc: subprocess.Popen, log: Path, what: str) -> None:
    """Poll Streamlit's health endpoint until it answers, for 120 s at most; then kill the server
    and raise with the end of its log."""
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=5).ok:
                return
        except requests.RequestException:  # not listening yet, or too busy to answer in time
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{what} did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def dashboard_url(demo_home) -> str:
    """A real Streamlit server over the demo store, on a loopback port."""
    url, proc = start_dashboard(demo_home)
    yield url
    proc.terminate()
    proc.wait(10)


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def playwright():
    """The one Playwright driver of the session: its sync API runs one at a time in a thread (a
    second `sync_playwright()` while the shared browser's is open fails), so tests that need
    a browser of their own (a persistent profile) start it from this driver."""
    require_system("Chromium", chromium_path() is not None)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=chromium_path(), args=BROWSER_ARGS)
    yield b
    b.close()
