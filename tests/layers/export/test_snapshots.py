"""Offline HTML and PNG snapshots (layers/export/html_snapshot.py, png_snapshot.py)."""

from __future__ import annotations

import re

import pytest

from layers.export.html_snapshot import remote_asset_references
from tests.support.exports import MARKED_VIEW, VIEW, XSS, export


def test_html_snapshot_is_self_contained(picture, fixes, tmp_path):
    result = export(picture, VIEW, fmt="html", tmp_path=tmp_path, track_points=fixes)
    page = result.path.read_text(encoding="utf-8")
    assert remote_asset_references(page) == []
    # no script, stylesheet or image is loaded from a URL of any kind
    assert not re.search(r"<script[^>]*\bsrc=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref=", page, re.IGNORECASE)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.sub(
        r"<script\b[^>]*>.*?</script>", "", page, flags=re.DOTALL | re.IGNORECASE), re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.IGNORECASE)
    assert not re.search(r"jsdelivr|cdnjs|unpkg|code\.jquery|bootstrapcdn", page, re.IGNORECASE)
    assert "/app/static" not in page and "/watchfloor-inline-vendor" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert re.search(r"L\.map\(", page) and "Leaflet 1.9.4" in page  # the map, and Leaflet itself inside
    assert page.count("RESTRICTED//REL TO FRA, GBR") >= 2  # top and bottom banners
    assert XSS not in page and "<img src=x" not in page


def test_png_snapshot(picture, tmp_path):
    from PIL import Image

    result = export(picture, MARKED_VIEW, fmt="png", tmp_path=tmp_path)
    img = Image.open(result.path)
    assert img.format == "PNG" and img.size[0] >= 1000
    assert img.text["Title"].endswith("RESTRICTED//REL TO FRA, GBR")
    # the marking banner is drawn in the classification's colour at the top and bottom edges
    px = img.convert("RGB")
    red = (200, 16, 46)
    assert px.getpixel((5, 5)) == red and px.getpixel((5, img.size[1] - 5)) == red


@pytest.mark.browser
def test_html_snapshot_draws_with_no_request_at_all(picture, fixes, tmp_path, browser):
    result = export(picture, VIEW, fmt="html", tmp_path=tmp_path, track_points=fixes)
    page = browser.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(result.path.as_uri())
    page.wait_for_selector(".leaflet-container path.leaflet-interactive, .leaflet-container canvas", timeout=15000)
    page.wait_for_timeout(500)
    assert [u for u in requests if u != result.path.as_uri() and not u.startswith("data:")] == []
    assert errors == []
    assert page.locator(".wf-banner.wf-top").inner_text() == "RESTRICTED//REL TO FRA, GBR"
    page.close()
