"""The watch floor, for real: `watchfloor up --demo` (what `make run` starts) keeps the picture alive.

The static demo is loaded as if `make run` had been started ten minutes ago: its drones' last fixes are
then older than their stale time. The live demo, received through the real feed paths (CoT over UDP and
TCP to the project's listeners, HTTP feeds polled by its poller), must bring tracks back to life on the
wall; the wall's ticker holds only what needs a person, at most ten cards. Then every page is
photographed at the three screen sizes for people to look at (test-artifacts/), and stopping the
supervisor stops every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests

from tests.conftest import ARTIFACTS, ROOT, add_test_users, free_port, sign_in, wait_until_drawn

pytestmark = pytest.mark.browser
SIZES = ((1920, 1080), (1024, 768), (768, 1024))
INFORMATION = ("lack clear post-event imagery", "tracks stale", "hot spots")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)  # polling a condition, with a deadline
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def live_floor(tmp_path_factory):
    from ingest.demo import load_demo
    from ingest.store.delta import DeltaStore

    home = tmp_path_factory.mktemp("live-home")
    started = datetime.now(UTC) - timedelta(minutes=10)
    load_demo(DeltaStore(home / "store"), now=started, workdir=home / "demo-inputs")
    add_test_users(home)
    port, base = free_port(), 20000 + os.getpid() % 20000
    env = {**os.environ, "WATCHFLOOR_HOME": str(home), "WATCHFLOOR_REFRESH_S": "5"}
    env.pop("WATCHFLOOR_STORE", None)
    log = open(home / "up.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "layers.cli", "up", "--demo", "--port", str(port), "--address",
                             "127.0.0.1", "--demo-ports", str(base)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/_stcore/health", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        _wait(healthy, 120, "the dashboard")
        yield url, home, proc, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def test_live_tracks_reach_the_wall_and_the_ticker_holds_only_actionable_alerts(browser, live_floor):
    from ingest.store.delta import DeltaStore

    url, home, _, _ = live_floor
    store = DeltaStore(home / "store")

    def live_tracks() -> int:
        tracks = store.read("tracks")
        fresh = tracks["stale_at"] > pd.Timestamp.now(tz="UTC")
        return int((fresh & tracks["source_id"].astype(str).str.contains("-3|-4", regex=True)).sum())

    assert _wait(live_tracks, 300, "live drones in the store") > 0  # a deadline bounds only a failure
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    sign_in(page, url)
    page.wait_for_selector("[data-testid='wf-ticker']", timeout=90_000)

    def active_on_wall() -> int:
        for metric in page.locator("[data-testid='stMetric']").all():
            if "Active tracks" in metric.inner_text():
                return int(metric.inner_text().split("\n")[-1].replace(",", ""))
        return 0

    assert _wait(active_on_wall, 60, "active tracks on the wall") > 0
    cards = page.locator("[data-testid='wf-ticker'] .wf-card").all_inner_texts()
    assert 0 < len(cards) <= 10
    assert not [c for c in cards if any(word in c for word in INFORMATION)], cards
    # calm: while the wall refreshes itself, nothing on it fades (Streamlit dims what is rerunning)
    stale = page.wait_for_selector(".stElementContainer[data-stale='true']", state="attached", timeout=60_000)
    assert stale.evaluate("e => getComputedStyle(e).opacity") == "1"
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_at_every_size_for_people_to_look_at(browser, live_floor, size):
    """One sign-in per size, then the navigation (the wall, which hides it, comes last)."""
    url, _, _, _ = live_floor
    w, h = size
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": w, "height": h}, has_touch=w < 1920)
    sign_in(page, f"{url}/commander")
    for name, title in (("commander", None), ("analyst", "Analyst"), ("data-health", "Data health"),
                        ("operations", "Operations")):
        if title:
            page.get_by_role("link", name=title).first.click()
        page.wait_for_selector("text=Feeds" if name == "data-health" else ".wf-banner", timeout=90_000)
        if name != "data-health":
            wait_until_drawn(page)
        page.screenshot(path=str(ARTIFACTS / f"live-{name}-{w}x{h}.png"), timeout=120_000)
    page.close()


def test_stopping_the_supervisor_stops_everything_it_started(live_floor):
    url, _, proc, base = live_floor
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0 or proc.returncode is not None
    for port in (base, base + 1, base + 2):  # the demo's and the listeners' ports are free again
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
    with pytest.raises(requests.RequestException):
        requests.get(f"{url}/_stcore/health", timeout=5)
