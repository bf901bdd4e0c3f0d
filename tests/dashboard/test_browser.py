"""The dashboard in a real browser (system Chromium through Playwright), fully offline.

For every page at a wall-screen and a tablet size: the page renders (the map
canvas draws on map pages), nothing is requested from anywhere but the
dashboard's own loopback address, the console has no errors, no script from
feed text runs, and a screenshot lands in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import time
from io import BytesIO
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser

VIEWPORTS = {"1920x1080": (1920, 1080), "1024x768": (1024, 768)}
PAGES = {"operations": "Partner units", "commander": "Partner units", "analyst": "Analyst",
         "data-health": "Quarantined records"}
MAP_PAGES = ("operations", "commander", "analyst")
LOCAL = {"127.0.0.1", "localhost", "::1"}
# Streamlit's frontend probes for a base path on deep links (GET /<page>/_stcore/health, /host-config)
# and logs the expected 404s before falling back to the root; these are not our errors.
STREAMLIT_PROBES = ("/_stcore/health", "/_stcore/host-config")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("page_name", list(PAGES))
def test_page_renders_offline(browser, dashboard_url, page_name, viewport):
    w, h = VIEWPORTS[viewport]
    page = browser.new_page(viewport={"width": w, "height": h})
    requests, errors, dialogs, failed = [], [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, f"{dashboard_url}/{'' if page_name == 'operations' else page_name}")
    page.wait_for_selector(f"text={PAGES[page_name]}", timeout=90_000)
    canvas = page.wait_for_selector("#deckgl-overlay, canvas", timeout=60_000) if page_name in MAP_PAGES else None
    time.sleep(3)  # let deck.gl finish its first frames
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{page_name}-{viewport}.png"))
    png = canvas.screenshot() if canvas else None
    page.close()

    external = sorted({u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
                       and urlparse(u).hostname not in LOCAL})
    assert external == [], f"requests left localhost: {external}"
    ours = [u for u in failed if not u.endswith(STREAMLIT_PROBES)]
    assert ours == [], f"failed requests: {ours}"
    probes = len(failed) - len(ours)
    real_errors = [e for e in errors if "status of 404" not in e] + \
        [e for e in errors if "status of 404" in e][probes:]
    assert real_errors == [], f"console errors: {real_errors}"
    assert dialogs == [], f"script from feed text ran: {dialogs}"
    if png is not None:
        assert _drawn(png), "the map canvas is blank"


def _drawn(png: bytes) -> bool:
    """More than a flat background: many distinct colours, no single colour covering it all."""
    img = np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img // 16, axis=0, return_counts=True)
    return len(colours) > 20 and counts.max() / len(img) < 0.95
