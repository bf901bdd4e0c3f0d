"""A dashboard's own alert evaluator: `watchfloor alerts run` as a child process of the server.

A single laptop or a lone dashboard needs no second command: the server starts this child,
which evaluates the rules on an interval under the store's alerts lease (refresh.py
`Evaluator`), exactly as `watchfloor alerts run` does, and stands by while another process
holds the lease. A process, not a thread: an evaluation at scale is seconds of pandas and
shapely work that would hold the interpreter lock the page runs need, and the wall's
refreshes must not wait for it (`python -m bench dashboard`; issue 13). The child stops when
its server does: it waits on the parent's sentinel, so even a killed server leaves no
evaluator behind holding the lease.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import types

log = logging.getLogger("watchfloor.alerts")

# At most this often: a refresh interval of a few seconds must not mean an evaluation as often.
MIN_INTERVAL_S = 30.0
TAKEOVER_S = 10.0


_SPAWNING = threading.Lock()


def start(interval_s: float) -> multiprocessing.Process:
    """Start the evaluator child for this process (spawned: a fresh interpreter, no copy of the
    server's threads or caches). Its log goes where the server's goes.

    A spawned child first imports the parent's ``__main__`` again; under ``streamlit run`` that is
    the page script (Streamlit puts it in ``sys.modules``), which would build the whole app in the
    child. For the moment of the spawn ``__main__`` is an empty module, so the child imports only
    what `_main` needs."""
    process = multiprocessing.get_context("spawn").Process(
        target=_main, args=(max(MIN_INTERVAL_S, interval_s), min(TAKEOVER_S, max(MIN_INTERVAL_S, interval_s)),
                            os.getpid()),
        name="watchfloor-alerts", daemon=True)
    with _SPAWNING:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to import
        try:
            process.start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main
    return process


def _main(interval_s: float, takeover_s: float, server_pid: int) -> None:
    from ingest.config import log_level, log_to_stderr
    from ingest.store import open_store
    from ingest.store.locks import holder_id
    from layers.alerts.refresh import Evaluator, evaluations

    log_to_stderr(log_level(logging.INFO))
    server = multiprocessing.parent_process()
    evaluator = Evaluator(open_store())
    holding: str | None = None

    def wait(seconds: float) -> bool:
        server.join(seconds)  # returns early when the server is gone
        return not server.is_alive()

    try:
        for run in evaluations(evaluator, interval_s=interval_s, takeover_s=takeover_s, wait=wait):
            if run is None:
                holder = evaluator.holder() or "another process"
                if holder != holding:  # told once per evaluator that holds it
                    log.info("alert evaluation: standing by, %s evaluates", holder)
                holding = holder
                continue
            if holding != holder_id():
                log.info("alert evaluation: this dashboard (%s, evaluating for the server pid %d) evaluates",
                         holder_id(), server_pid)
            log.info("alert evaluation at %s by %s: %s", run.at.isoformat(), holder_id(), run.line())
            holding = holder_id()
    except Exception:
        log.exception("alert evaluation failed; the previous alerts stay; the server starts another evaluator")
        raise
    finally:
        evaluator.close()
