"""The HTML snapshot's footer shows, whatever the length of the filters, the marking and the
record counts in full: one line each, inside the page, not cut off."""

from __future__ import annotations

import pytest

from layers.export import export_view
from layers.filters import View
from tests.layers.export.test_export_files import NOW, SINCE, VIEWER, deployments, incidents

pytestmark = pytest.mark.browser


def test_the_footer_shows_the_counts_in_full_under_long_filters(browser, tmp_path):
    view = View(window="custom", start=SINCE, end=NOW, layers=("incidents", "deployments"),
                categories=tuple(f"Category number {i}" for i in range(30)) + ("Flood",))
    result = export_view({"incidents": incidents(), "deployments": deployments()}, view, viewer=VIEWER, fmt="html",
                         out=tmp_path / "snap.html", now=NOW)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(result.path.as_uri())
    lines = page.locator(".wf-banner.wf-bottom .wf-line")
    lines.first.wait_for(timeout=30_000)
    texts = lines.all_inner_texts()
    assert texts[0] == "UNCLASSIFIED"
    assert texts[1] == "Records: incidents 3, deployments 2 (total 5)"
    counts = lines.nth(1)
    box = counts.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 768
    assert counts.evaluate("e => e.scrollWidth <= e.clientWidth")  # not cut off
    assert "Category number 29" in lines.nth(3).get_attribute("title")  # the long line whole on hover
    page.close()
