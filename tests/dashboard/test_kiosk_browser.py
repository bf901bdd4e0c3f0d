"""A wall display stays signed in through browser restarts, and stops at its next refresh once revoked."""

from __future__ import annotations

import pytest

from layers.access.kiosk import add_kiosk, enrolment_link, revoke_kiosk
from tests.conftest import BROWSER_ARGS, chromium_path, start_dashboard

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fast_wall(demo_home):
    """The demo dashboard refreshing every 3 s, so "the next refresh" comes quickly."""
    url, proc = start_dashboard(demo_home, WATCHFLOOR_REFRESH_S="3")
    yield url
    proc.terminate()
    proc.wait(10)


def test_an_enrolled_wall_survives_a_browser_restart_and_stops_once_revoked(demo_home, fast_wall, playwright,
                                                                            tmp_path):
    kiosks = demo_home / "kiosks.toml"
    _, code = add_kiosk("wall-test", nation="GBR", clearance="SECRET", path=kiosks, replace_existing=True)
    profile = tmp_path / "wall-browser"

    def open_wall():
        return playwright.chromium.launch_persistent_context(str(profile), executable_path=chromium_path(),
                                                             args=BROWSER_ARGS, viewport={"width": 1920, "height": 1080})

    with open_wall() as ctx:  # closed even when the test fails: the session's driver outlives it
        page = ctx.new_page()
        page.goto(enrolment_link(fast_wall, code))
        page.get_by_role("button", name="Enrol this display").click()
        page.wait_for_selector("text=Partner units", timeout=90_000)
        cookie = next(c for c in ctx.cookies() if c["name"] == "wf_kiosk")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
        assert page.evaluate("document.cookie").find("wf_kiosk") < 0  # scripts cannot read it

    with open_wall() as ctx:  # the browser restarted: same profile, no sign-in
        page = ctx.new_page()
        page.goto(fast_wall)
        page.wait_for_selector("text=Partner units", timeout=90_000)
        assert page.locator("input[aria-label='Username']").count() == 0

        revoke_kiosk("wall-test", path=kiosks)
        # the wall's own refresh (every 3 s here) must find the revocation and show the sign-in form
        page.wait_for_selector("input[aria-label='Username']", timeout=30_000)
        assert page.locator("text=Partner units").count() == 0
