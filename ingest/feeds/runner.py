"""Run every feed of a config in one long-lived process: `watchfloor feeds run`.

Threads, not asyncio: the work is blocking I/O in libraries that are
blocking (requests, the Delta store), there are a handful of feeds, and a
thread per feed keeps one slow or failing feed from delaying another.
One HTTP poller thread per `http-json` feed; a receive thread and a flush
thread per CoT listener (plus one per TCP peer).

Writes from all threads go through one lock: the store allows one writer at
a time, and serialising here avoids optimistic-commit conflicts inside one
process (the store's own file lock still guards against other processes).

Several runners, one feed each at a time: every feed is run only while this
process holds the feed's lease (`Store.exclusive(feed_lease(name))`: a
PostgreSQL advisory lock with the PostGIS store, a file lock with the embedded
one). Two runners with the same feeds.toml against one store (on two machines,
for availability) split the feeds between them; a runner that does not hold a
feed stands by and tries again every `takeover_s` seconds, so when the holder
dies (its lock goes with its process or its database connection) another runner
takes the feed over within that time. A holder checks its lease between polls
(and every `takeover_s` while it listens) and stops the feed when it is lost.

Stopping: SIGINT or SIGTERM (when run in the main thread), or `stop_event`,
makes every loop finish its current step; listeners ingest what they hold and
record the feed as "stopped"; `run` returns. `once=True` polls every HTTP
feed one time (in parallel) and returns: for cron and tests. Listeners are
skipped by `--once`: there is nothing to receive in an instant.

CLI wiring (layers/cli/, not edited here):

    from ingest.feeds.runner import add_arguments, feeds_command
    feeds = sub.add_parser("feeds", help="live feeds")
    fsub = feeds.add_subparsers(dest="feeds_cmd", required=True)
    fr = fsub.add_parser("run", help="poll and listen to the feeds in feeds.toml")
    add_arguments(fr)                  # --config FILE, --once, --takeover-s S
    fr.set_defaults(func=feeds_command)
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import FrameType

import pandas as pd

from ingest import config as wf_config
from ingest.errors import ConfigError, WatchfloorError
from ingest.feeds.config import CotFeed, FeedsConfig, load_config
from ingest.feeds.cot_listener import CotListener
from ingest.feeds.errors import FeedError
from ingest.feeds.http_poller import HttpPoller, PollResult, backoff_delay, utcnow
from ingest.feeds.netguard import Resolver
from ingest.store.base import FeedStatus, Store
from ingest.store.locks import Lease, feed_lease, holder_id

log = logging.getLogger("watchfloor.feeds")

JOIN_TIMEOUT_S = 30.0
LISTENER_RETRY_CAP_S = 600.0
# A runner standing by for a feed tries to take it over this often (`--takeover-s`).
TAKEOVER_S = 10.0
# A holder asks whether it still holds a feed's lease at least this often.
LEASE_CHECK_S = 5.0


@dataclass
class RunReport:
    """What a run did. With `once`, every poll's result; otherwise counts only."""

    polls: list[PollResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # feed names not run, with why
    held: set[str] = field(default_factory=set)  # the feeds this runner holds (runs) now
    poll_count: int = 0
    failed_count: int = 0
    listeners: dict[str, CotListener] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed_count == 0


def run(config: FeedsConfig, store: Store, *, once: bool = False,
        stop_event: threading.Event | None = None, resolver: Resolver | None = None,
        staging_dir: Path | None = None, state_dir: Path | None = None,
        report: RunReport | None = None, takeover_s: float = TAKEOVER_S) -> RunReport:
    """Run the feeds of `config` into `store` until stopped (or one round with `once`).

    Only the feeds whose lease this process gets are run; the others are tried again every
    `takeover_s` seconds (with `once`, they are skipped: another runner has them).
    Pass `report` to watch a run from another thread (its `listeners` fill in
    as they start: tests find the port a `port = 0` listener bound there).
    `resolver`, `staging_dir` and `state_dir` are for tests (see HttpPoller).
    Never raises for a feed's problems: they end up in the feed statuses."""
    stop = stop_event or threading.Event()
    lock = threading.Lock()
    report = report if report is not None else RunReport()
    previous = _install_signal_handlers(stop)
    try:
        pollers = [HttpPoller(f, store, resolver=resolver, staging_dir=staging_dir,
                              state_dir=state_dir, write_lock=lock) for f in config.http_feeds]
        if once:
            for f in config.cot_feeds:
                report.skipped.append(f"{f.name}: a {f.kind} listener (--once polls HTTP feeds only)")
            _run_once(pollers, store, report, stop)
            return report
        duties: list[tuple[str, Callable[[_Turn], None]]] = [
            (p.feed.name, partial(_poll_loop, p, report=report)) for p in pollers]
        duties += [(f.name, partial(_listen, f, store, lock, report=report)) for f in config.cot_feeds]
        threads = [threading.Thread(target=_take_turns, args=(name, work, store, stop, report, takeover_s),
                                    daemon=True, name=f"feed-{name}") for name, work in duties]
        for t in threads:
            t.start()
        log.info("feeds: running %d feed(s) as %s; stop with Ctrl-C or SIGTERM", len(threads), holder_id())
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
        log.info("feeds: stopping")
        for t in threads:
            t.join(JOIN_TIMEOUT_S)
            if t.is_alive():
                log.warning("feeds: %s did not stop within %g s", t.name, JOIN_TIMEOUT_S)
        return report
    finally:
        _restore_signal_handlers(previous)


class _Turn:
    """One spell of holding a feed's lease: over when the runner stops or the lease is lost."""

    def __init__(self, stop: threading.Event, lease: Lease, check_s: float) -> None:
        self.stop, self.lease, self.check_s = stop, lease, check_s

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds`, asking the lease every `check_s`; True when the turn is over."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if self.stop.wait(max(0.0, min(self.check_s, remaining))):
                return True
            if not self.lease.held():
                log.warning("feed lease %s lost: this runner stops the feed", self.lease.name)
                return True
            if remaining <= self.check_s:
                return False


def _take_turns(name: str, work: Callable[[_Turn], None], store: Store, stop: threading.Event,
                report: RunReport, takeover_s: float) -> None:
    """Run `work` for as long as this runner holds the feed's lease; stand by while another does."""
    standing_by = False
    while not stop.is_set():
        try:
            with store.exclusive(feed_lease(name)) as lease:
                if lease:
                    log.info("feed %s: this runner (%s) runs it", name, holder_id())
                    standing_by = False
                    report.held.add(name)
                    try:
                        work(_Turn(stop, lease, min(takeover_s, LEASE_CHECK_S)))
                    finally:
                        report.held.discard(name)
                elif not standing_by:
                    log.info("feed %s: %s runs it; standing by (trying every %g s)", name,
                             lease.holder() or "another runner", takeover_s)
                    standing_by = True
        except WatchfloorError as exc:  # e.g. the database is unreachable: try again later
            log.error("feed %s: cannot take its lease: %s", name, exc)
        except Exception:  # a bug must not end the feed for good: log it, give the lease up, try again
            log.exception("feed %s: stopped by an unexpected error; trying again in %g s", name, takeover_s)
        stop.wait(takeover_s)


def _run_once(pollers: list[HttpPoller], store: Store, report: RunReport, stop: threading.Event) -> None:
    if not pollers:
        return

    def one(p: HttpPoller) -> PollResult | None:
        if stop.is_set():
            return None
        with store.exclusive(feed_lease(p.feed.name)) as lease:
            if not lease:
                report.skipped.append(f"{p.feed.name}: {lease.holder() or 'another runner'} runs it")
                return None
            return p.poll()

    with ThreadPoolExecutor(max_workers=min(8, len(pollers)), thread_name_prefix="poll") as pool:
        for result in pool.map(one, pollers):
            if result is None:
                continue
            report.polls.append(result)
            report.poll_count += 1
            report.failed_count += 0 if result.ok else 1


def _poll_loop(poller: HttpPoller, turn: _Turn, *, report: RunReport) -> None:
    while True:
        try:
            result = poller.poll()
        except Exception:  # poll() catches everything; this is the last guard
            log.exception("feed %s: poll crashed", poller.feed.name)
            delay = poller.feed.interval_s
        else:
            report.poll_count += 1
            report.failed_count += 0 if result.ok else 1
            delay = result.delay_s
        if turn.wait(delay):
            return


def _listen(feed: CotFeed, store: Store, lock: threading.Lock, turn: _Turn, *, report: RunReport) -> None:
    """Start a listener (retrying with backoff if the port is taken), run until the turn is over."""
    from ingest.feeds.mavlink_listener import listener_class  # here: pymavlink is slow to import

    failures = 0
    listener: CotListener | None = None
    while listener is None:
        try:
            listener = listener_class(feed)(feed, store, write_lock=lock).start()
        except FeedError as exc:
            failures += 1
            delay = backoff_delay(feed.interval_s, LISTENER_RETRY_CAP_S, failures)
            log.error("%s; retrying in %g s", exc, delay)
            now = pd.Timestamp(utcnow())
            try:
                with lock:
                    store.put_feed_status(FeedStatus(
                        feed=feed.name, kind=feed.kind, state="failing", last_attempt=now,
                        last_error=exc.reason, consecutive_failures=failures,
                        interval_s=feed.interval_s, next_attempt=now + timedelta(seconds=delay),
                        marking=feed.default_marking))
            except Exception:
                log.exception("feed %s: could not record the feed status", feed.name)
            if turn.wait(delay):
                return
    report.listeners[feed.name] = listener
    try:
        turn.wait(math.inf)
    finally:
        listener.stop()  # records the feed as stopped before the lease is released
        report.listeners.pop(feed.name, None)


def _install_signal_handlers(stop: threading.Event) -> dict[int, object]:
    """SIGINT/SIGTERM set `stop` (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("feeds: received %s", signal.Signals(signum).name)
        stop.set()

    previous: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)  # type: ignore[arg-type]


# -- command line ------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add `--config FILE` and `--once` to a (sub)parser."""
    parser.add_argument("--config", metavar="FILE",
                        help="feeds file (default: $WATCHFLOOR_HOME/feeds.toml)")
    parser.add_argument("--once", action="store_true",
                        help="poll every HTTP feed once and exit (for cron); listeners are skipped")
    parser.add_argument("--takeover-s", type=float, default=TAKEOVER_S, metavar="SECONDS",
                        help="how often to try to take over a feed another runner holds "
                             f"(default {TAKEOVER_S:g})")
    return parser


def feeds_command(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """`watchfloor feeds run [--config FILE] [--once]`.

    `args` is the argparse Namespace from `add_arguments` (attributes `config`:
    str | None, `once`: bool, `takeover_s`: float), or an argv list such as ["--once"]. Returns the
    exit code: 0, or 1 if a `--once` poll failed. Bad config raises ConfigError
    (the CLI turns WatchfloorError into exit 2)."""
    if not isinstance(args, argparse.Namespace):
        args = add_arguments(argparse.ArgumentParser(prog="watchfloor feeds run")).parse_args(
            list(args or []))
    once = bool(getattr(args, "once", False))
    config = load_config(getattr(args, "config", None))
    if not config.feeds:
        raise ConfigError(f"feeds file {config.path}", "at least one [[feed]] table", "none")
    wf_config.log_to_stderr(logging.WARNING if once else logging.INFO)
    from ingest.store import open_store

    store = open_store()
    takeover_s = float(getattr(args, "takeover_s", TAKEOVER_S))
    if not takeover_s > 0:
        raise ConfigError("--takeover-s", "a number of seconds > 0", takeover_s)
    report = run(config, store, once=once, takeover_s=takeover_s)
    if once:
        for result in report.polls:
            print(result.line())
        for why in report.skipped:
            print(f"feed {why}: skipped")
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ingest.feeds [run] [--config FILE] [--once]` (the same as the CLI command)."""
    from ingest.errors import WatchfloorError

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        args = args[1:]
    try:
        return feeds_command(args)
    except WatchfloorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
