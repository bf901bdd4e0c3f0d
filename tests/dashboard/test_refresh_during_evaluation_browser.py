"""No refresh of the wall waits for the alert evaluation, at the scale scenario (issue 13).

The dashboard evaluates the rules in a child process of its own (layers/alerts/background.py)
over the scale scenario of `make bench` (1M fixes, 50,000 incidents). To see refreshes happen
*while* an evaluation runs, without timing luck, the test holds the store's write lock: the
evaluation reads the store and computes its findings (seconds of CPU at this scale, logged from
"alert evaluation started" to "findings computed"), then waits to store them and cannot finish
until the test lets go. The wall refreshes every second; every refresh that began in that time
must take under a second of server time (dashboard/timing.py logs each one at DEBUG, a WARNING
above a second), and at least one must have begun while the findings were still being computed.
After the lock is released the evaluation lands and the wall goes on refreshing; the first
refresh after new alerts rebuilds the alert layer and the cards, which is work on new data
rather than waiting, so only its happening is asserted there.

The same comparison, in one process and with ratios, is the bench row "operations refresh while
the alerts are evaluated" (`python -m bench dashboard`).
"""

from __future__ import annotations

import re

import pytest
from filelock import FileLock

from tests.conftest import add_test_users, sign_in, start_dashboard
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser

REFRESH = re.compile(r"run: operations refresh took (\d+\.\d+) s.*, from (\d\d:\d\d:\d\d\.\d+)")
STAMP = re.compile(r"^\S+ (\d\d:\d\d:\d\d),(\d+) ", re.MULTILINE)
STARTED, COMPUTED, LANDED = "alert evaluation started", "findings computed; storing them", "alert evaluation at"


def _after(log_text: str, marker: str) -> str | None:
    """The log from the line that holds ``marker`` on, or None before that line is written."""
    at = log_text.find(marker)
    return None if at < 0 else log_text[log_text.rfind("\n", 0, at) + 1:]


def _stamp(text: str) -> str:
    first = STAMP.match(text)
    return f"{first.group(1)}.{first.group(2)}" if first else ""


def _refreshes(text: str, until: str = "99") -> list[float]:
    """Server times of the wall refreshes that *began* after the first line of ``text`` and before
    ``until`` (a run that began before, such as the cold first run that started the evaluation,
    is not one of them)."""
    since = _stamp(text)
    return [float(took) for took, began in REFRESH.findall(text) if since <= began < until]


@pytest.fixture(scope="module")
def scale_home(tmp_path_factory):
    """The bench's scale scenario in an embedded store, ending now, with its alerts stored."""
    from bench.dashboard_bench import build_store

    home = tmp_path_factory.mktemp("scale-home")
    build_store(home / "store")
    add_test_users(home)
    return home


def test_the_wall_refreshes_under_a_second_while_the_scale_scenario_is_evaluated(browser, scale_home):
    log = scale_home / "streamlit.log"
    held = FileLock(str(scale_home / "store" / ".write.lock"))
    held.acquire()  # the evaluation can compute its findings but not store them until released
    url, proc = start_dashboard(scale_home, WATCHFLOOR_REFRESH_S="1", WATCHFLOOR_ALERTS_IN_DASHBOARD="1",
                                WATCHFLOOR_LOG_LEVEL="DEBUG")
    try:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        sign_in(page, url)
        wait_until(lambda: _after(log.read_text(), STARTED), "the dashboard to start evaluating the alerts", 180)
        computed = wait_until(lambda: _after(log.read_text(), COMPUTED), "the findings to be computed", 300)
        during = wait_until(lambda: (t := _after(log.read_text(), STARTED)) and len(_refreshes(t)) >= 5 and t,
                            "five wall refreshes while the evaluation runs", 180)
        assert LANDED not in during, "the evaluation finished while the store was locked"
        assert _refreshes(during, until=_stamp(computed)), \
            f"no refresh began while the findings were computed: {during}"
        assert max(_refreshes(during)) < 1.0, during
        held.release()
        after = wait_until(lambda: (t := _after(log.read_text(), LANDED)) and len(_refreshes(t)) >= 2 and t,
                           "the evaluation to land and two refreshes after it", 180)
        assert "Traceback" not in after, after
        page.close()
    finally:
        if held.is_locked:
            held.release()
        proc.terminate()
        proc.wait(30)
