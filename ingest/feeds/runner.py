"""Run every feed of a config in one long-lived process: `watchfloor feeds run`.

Threads, not asyncio: the work is blocking I/O in libraries that are
blocking (requests, the Delta store), there are a handful of feeds, and a
thread per feed keeps one slow or failing feed from delaying another.
One HTTP poller thread per `http-json` feed; a receive thread and a flush
thread per CoT listener (plus one per TCP peer).

Writes from all threads go through one lock: the store allows one writer at
a time, and serialising here avoids optimistic-commit conflicts inside one
process (the store's own file lock still guards against other processes).

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
    add_arguments(fr)                  # --config FILE, --once
    fr.set_defaults(func=feeds_command)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType

import pandas as pd

from ingest.errors import ConfigError
from ingest.feeds.config import CotFeed, FeedsConfig, load_config
from ingest.feeds.cot_listener import CotListener
from ingest.feeds.errors import FeedError
from ingest.feeds.http_poller import HttpPoller, PollResult, backoff_delay, utcnow
from ingest.feeds.netguard import Resolver
from ingest.store.base import FeedStatus, Store

log = logging.getLogger("watchfloor.feeds")

JOIN_TIMEOUT_S = 30.0
LISTENER_RETRY_CAP_S = 600.0


@dataclass
class RunReport:
    """What a run did. With `once`, every poll's result; otherwise counts only."""

    polls: list[PollResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # feed names not run, with why
    poll_count: int = 0
    failed_count: int = 0
    listeners: dict[str, CotListener] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed_count == 0


def run(config: FeedsConfig, store: Store, *, once: bool = False,
        stop_event: threading.Event | None = None, resolver: Resolver | None = None,
        staging_dir: Path | None = None, state_dir: Path | None = None,
        report: RunReport | None = None) -> RunReport:
    """Run the feeds of `config` into `store` until stopped (or one round with `once`).

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
            _run_once(pollers, report, stop)
            return report
        threads = [threading.Thread(target=_poll_loop, args=(p, stop, report), daemon=True,
                                    name=f"poll-{p.feed.name}") for p in pollers]
        threads += [threading.Thread(target=_listen, args=(f, store, lock, stop, report), daemon=True,
                                     name=f"listen-{f.name}") for f in config.cot_feeds]
        for t in threads:
            t.start()
        log.info("feeds: running %d feed(s); stop with Ctrl-C or SIGTERM", len(threads))
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


def _run_once(pollers: list[HttpPoller], report: RunReport, stop: threading.Event) -> None:
    if not pollers:
        return

    def one(p: HttpPoller) -> PollResult | None:
        return None if stop.is_set() else p.poll()

    with ThreadPoolExecutor(max_workers=min(8, len(pollers)), thread_name_prefix="poll") as pool:
        for result in pool.map(one, pollers):
            if result is None:
                continue
            report.polls.append(result)
            report.poll_count += 1
            report.failed_count += 0 if result.ok else 1


def _poll_loop(poller: HttpPoller, stop: threading.Event, report: RunReport) -> None:
    while not stop.is_set():
        try:
            result = poller.poll()
        except Exception:  # poll() catches everything; this is the last guard
            log.exception("feed %s: poll crashed", poller.feed.name)
            delay = poller.feed.interval_s
        else:
            report.poll_count += 1
            report.failed_count += 0 if result.ok else 1
            delay = result.delay_s
        stop.wait(delay)


def _listen(feed: CotFeed, store: Store, lock: threading.Lock, stop: threading.Event,
            report: RunReport) -> None:
    """Start a listener (retrying with backoff if the port is taken), run until stop."""
    from ingest.feeds.mavlink_listener import listener_class  # here: pymavlink is slow to import

    failures = 0
    listener: CotListener | None = None
    while not stop.is_set():
        try:
            listener = listener_class(feed)(feed, store, write_lock=lock).start()
            break
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
            stop.wait(delay)
    if listener is None:
        return
    report.listeners[feed.name] = listener
    stop.wait()
    listener.stop()


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
    return parser


def feeds_command(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """`watchfloor feeds run [--config FILE] [--once]`.

    `args` is the argparse Namespace from `add_arguments` (attributes `config`:
    str | None, `once`: bool), or an argv list such as ["--once"]. Returns the
    exit code: 0, or 1 if a `--once` poll failed. Bad config raises ConfigError
    (the CLI turns WatchfloorError into exit 2)."""
    if not isinstance(args, argparse.Namespace):
        args = add_arguments(argparse.ArgumentParser(prog="watchfloor feeds run")).parse_args(
            list(args or []))
    once = bool(getattr(args, "once", False))
    config = load_config(getattr(args, "config", None))
    if not config.feeds:
        raise ConfigError(f"feeds file {config.path}", "at least one [[feed]] table", "none")
    _configure_logging(logging.WARNING if once else logging.INFO)
    from ingest.store import open_store

    store = open_store()
    report = run(config, store, once=once)
    if once:
        for result in report.polls:
            print(result.line())
        for why in report.skipped:
            print(f"feed {why}: skipped")
    return 0 if report.ok else 1


def _configure_logging(level: int) -> None:
    """Log to stderr unless the embedding program configured logging already."""
    logger = logging.getLogger("watchfloor")
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


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
