"""Commander on a tablet, both orientations: the summary in two lines and the whole map above the fold,
nothing overflowing sideways, every control big enough to touch."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(768, 1024), (1024, 768)], ids=["portrait", "landscape"])
def test_the_commanders_map_is_above_the_fold(browser, dashboard_url, size):
    w, h = size
    page = browser.new_page(viewport={"width": w, "height": h}, has_touch=True)
    sign_in(page, f"{dashboard_url}/commander")
    page.wait_for_selector("text=partner units", timeout=90_000)
    canvas = page.wait_for_selector("#deckgl-overlay, canvas", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#deckgl-overlay, canvas').getBoundingClientRect()"
                           ".height > 300", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"commander-{w}x{h}.png"))
    box = canvas.bounding_box()
    summary = page.locator(".wf-line").all()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    buttons = [b for b in page.locator("button:visible").all() if b.bounding_box()]
    small = [b.inner_text() for b in buttons if b.bounding_box()["height"] < 40 and b.inner_text().strip()]
    page.close()
    assert box is not None and box["y"] + box["height"] <= h, f"map ends at {box}, below the fold of {h}"
    assert len(summary) == 2  # the key figures and what needs action, one line each
    assert scroll_width <= w
    assert small == [], f"controls too small to touch: {small}"
