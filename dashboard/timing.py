"""How long each dashboard run takes on the server, in the server log.

A wall screen refreshes itself every interval for a whole shift; a run that takes more than
a second shows as a frozen clock and a stale map, and nobody in the room reports it. Every
run of a page and every timed refresh is measured: a DEBUG line with its time
(WATCHFLOOR_LOG_LEVEL=DEBUG), a WARNING when it exceeds `SLOW_RUN_S`, so the log says
which page became slow and when (for example while an alert evaluation ran beside it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

log = logging.getLogger("watchfloor.dashboard.runs")

# What a user on the watch floor notices as a hang (issue 13: no rerun above 1 s).
SLOW_RUN_S = 1.0


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Log the server time of the run inside, whatever ends it (Streamlit stops a run that a newer
    one replaces by raising through it; that time is logged too)."""
    began, start = datetime.now().astimezone(), time.perf_counter()  # local, as the log line stamps
    try:
        yield
    finally:
        seconds = time.perf_counter() - start
        if seconds > SLOW_RUN_S:
            log.warning("slow run: %s took %.2f s on the server (target %.1f s), from %s", what, seconds,
                        SLOW_RUN_S, began.strftime("%H:%M:%S.%f"))
        else:
            log.debug("run: %s took %.2f s, from %s", what, seconds, began.strftime("%H:%M:%S.%f"))
