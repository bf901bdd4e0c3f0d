"""The dashboard in a real browser (system Chromium through Playwright), fully offline.

For each viewport: the map canvas draws, nothing is requested from anywhere
but the dashboard's own loopback address, the console has no errors, and a
screenshot lands in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

VIEWPORTS = {"wall-1920x1080": (1920, 1080), "tablet-1024x768": (1024, 768)}
LOCAL = {"127.0.0.1", "localhost", "::1"}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_operations_map_draws_offline(browser, dashboard_url, viewport):
    w, h = VIEWPORTS[viewport]
    page = browser.new_page(viewport={"width": w, "height": h})
    requests, errors, dialogs = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(dashboard_url)
    canvas = page.wait_for_selector("#deckgl-overlay, canvas", timeout=60_000)
    page.wait_for_selector("text=Partner deployments", timeout=60_000)
    time.sleep(3)  # let deck.gl finish its first frames
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"operations-{viewport}.png"))
    png = canvas.screenshot()
    page.close()

    external = sorted({u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
                       and urlparse(u).hostname not in LOCAL})
    assert external == [], f"requests left localhost: {external}"
    assert errors == [], f"console errors: {errors}"
    assert dialogs == [], f"script from feed text ran: {dialogs}"
    assert _drawn(png), "the map canvas is blank"


def _drawn(png: bytes) -> bool:
    """More than a flat background: several distinct colours cover a real share of the canvas."""
    from io import BytesIO

    from PIL import Image

    img = np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img // 16, axis=0, return_counts=True)
    background = counts.max() / len(img)
    return len(colours) > 20 and background < 0.95
