"""Need-to-know while the screen stays open: an open tab loses a disabled account within one refresh,
shows a narrower picture within one refresh of a lowered clearance, and signs out an expired session.

A dashboard refreshing every 3 s; each case waits for what the page shows (a signal), with a deadline
of a few refreshes, never for a fixed time."""

from __future__ import annotations

import pytest

from layers.access import add_user, set_disabled
from tests.conftest import TEST_PASSWORD, sign_in, start_dashboard

pytestmark = pytest.mark.browser
REFRESH_S = 3
WITHIN_MS = 8 * REFRESH_S * 1000  # a few refreshes, for a loaded machine
BANNER = ".wf-banner"


@pytest.fixture(scope="module")
def quick(demo_home):
    url, proc = start_dashboard(demo_home, WATCHFLOOR_REFRESH_S=str(REFRESH_S))
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("page_path", ["", "commander", "analyst"], ids=["operations", "commander", "analyst"])
def test_an_open_tab_loses_a_disabled_account_within_one_refresh(browser, quick, demo_home, page_path):
    name = f"rev.{page_path or 'ops'}"
    add_user(demo_home / "users.toml", name, TEST_PASSWORD, nation="GBR", clearance="SECRET", role="analyst",
             replace=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, f"{quick}/{page_path}", user=name)
    page.wait_for_selector(BANNER, timeout=90_000)
    set_disabled(demo_home / "users.toml", name, True)
    page.wait_for_selector("input[aria-label='Username']", timeout=WITHIN_MS)
    assert page.locator(BANNER).count() == 0
    page.close()


def test_a_lowered_clearance_narrows_the_open_wall_within_one_refresh(browser, quick, demo_home):
    add_user(demo_home / "users.toml", "rev.clear", TEST_PASSWORD, nation="GBR", clearance="SECRET",
             role="viewer", replace=True)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    sign_in(page, quick, user="rev.clear")
    page.wait_for_selector(f"{BANNER}:has-text('RESTRICTED//REL TO GBR')", timeout=90_000)
    add_user(demo_home / "users.toml", "rev.clear", TEST_PASSWORD, nation="GBR", clearance="UNCLASSIFIED",
             role="viewer", replace=True)
    # the demo's RESTRICTED records leave the picture: both banners (top and bottom, drawn one after
    # the other by the same refresh) drop to UNCLASSIFIED
    page.wait_for_function(
        """sel => { const b = [...document.querySelectorAll(sel)];
                    return b.length > 0 && b.every(e => e.innerText.startsWith('UNCLASSIFIED')); }""",
        arg=BANNER, timeout=WITHIN_MS)
    assert page.locator(f"{BANNER}:has-text('RESTRICTED')").count() == 0
    page.close()


def test_an_expired_session_is_signed_out_of_an_open_tab(browser, demo_home, tmp_path):
    home = tmp_path / "short-sessions"
    home.mkdir()
    (home / "store").symlink_to(demo_home / "store")
    (home / "watchfloor.toml").write_text("[auth]\nsession_hours = 0.004\n")  # about 14 s
    add_user(home / "users.toml", "short", TEST_PASSWORD, nation="GBR", clearance="SECRET", role="viewer")
    url, proc = start_dashboard(home, WATCHFLOOR_REFRESH_S=str(REFRESH_S))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, url, user="short")
        page.wait_for_selector(BANNER, timeout=90_000)
        page.wait_for_selector("input[aria-label='Username']", timeout=14_000 + WITHIN_MS)
        assert page.locator("text=Your session has expired").count() == 1
        page.close()
    finally:
        proc.terminate()
        proc.wait(10)
