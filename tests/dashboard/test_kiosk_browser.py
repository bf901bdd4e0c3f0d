"""A wall display stays signed in through browser restarts, and stops at its next refresh once revoked."""

from __future__ import annotations

import pytest

from layers.access.kiosk import add_kiosk, enrolment_link, revoke_kiosk
from tests.conftest import chromium_path, require_system, start_dashboard

pytestmark = pytest.mark.browser
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def fast_wall(demo_home):
    """The demo dashboard refreshing every 3 s, so "the next refresh" comes quickly."""
    url, proc = start_dashboard(demo_home, WATCHFLOOR_REFRESH_S="3")
    yield url
    proc.terminate()
    proc.wait(10)


def test_an_enrolled_wall_survives_a_browser_restart_and_stops_once_revoked(demo_home, fast_wall, tmp_path):
    path = chromium_path()
    require_system("Chromium", path is not None)
    from playwright.sync_api import sync_playwright

    kiosks = demo_home / "kiosks.toml"
    _, code = add_kiosk("wall-test", nation="GBR", clearance="SECRET", path=kiosks, replace_existing=True)
    profile = tmp_path / "wall-browser"
    with sync_playwright() as p:
        def open_wall():
            return p.chromium.launch_persistent_context(str(profile), executable_path=path, args=ARGS,
                                                        viewport={"width": 1920, "height": 1080})

        ctx = open_wall()
        page = ctx.new_page()
        page.goto(enrolment_link(fast_wall, code))
        page.get_by_role("button", name="Enrol this display").click()
        page.wait_for_selector("text=Partner units", timeout=90_000)
        cookie = next(c for c in ctx.cookies() if c["name"] == "wf_kiosk")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
        assert page.evaluate("document.cookie").find("wf_kiosk") < 0  # scripts cannot read it
        ctx.close()

        ctx = open_wall()  # the browser restarted: same profile, no sign-in
        page = ctx.new_page()
        page.goto(fast_wall)
        page.wait_for_selector("text=Partner units", timeout=90_000)
        assert page.locator("input[aria-label='Username']").count() == 0

        revoke_kiosk("wall-test", path=kiosks)
        # the wall's own refresh (every 3 s here) must find the revocation and show the sign-in form
        page.wait_for_selector("input[aria-label='Username']", timeout=30_000)
        assert page.locator("text=Partner units").count() == 0
        ctx.close()
