"""Poll an HTTP(S) URL and put what it serves through the ingest pipeline.

One `HttpPoller` per feed; `poll()` does one round and never raises for a
feed problem (timeouts, 5xx, garbage, refusals): it returns a `PollResult` and
writes the feed's `FeedStatus`, so the runner's loop is just "poll, wait
`result.delay_s`, repeat".

What one poll does, and why:
- every URL, the first and each redirect hop, goes through `netguard` (SSRF)
  and the connection is pinned to the checked address;
- every request has a timeout (connect and read), and the whole download a
  deadline, so a silent or trickling server cannot hold the thread;
- failed connects, read timeouts and 500/502/503/504 are retried by urllib3's
  `Retry`, with exponential backoff capped at `backoff_cap_s` (no hand-rolled
  loop); a server's Retry-After is not obeyed inside a poll (the poll interval
  backoff already spaces out the next attempt, and the thread must stay
  responsive to shutdown);
- conditional requests: the last ETag and Last-Modified are sent back as
  If-None-Match / If-Modified-Since; 304 means nothing to ingest. They are
  kept in `$WATCHFLOOR_HOME/feeds-state/` so a cron `--once` run benefits too,
  and saved only after the payload was stored: a 304 must never hide data we
  failed to store;
- the body is capped at `max_bytes` (decoded size, so a gzip bomb stops at
  the cap), written under a generated name in `$WATCHFLOOR_HOME/staging/feeds/`
  (the adapters read files), read by the feed's `format` adapter, removed;
- `pipeline.ingest` stores or quarantines each record. Upserts on
  (source, source_id) make a re-delivered payload change nothing, which is
  why a feed recovering after an outage creates no duplicates;
- after a failure the next poll waits interval_s x 2^(failures-1), capped at
  `backoff_cap_s`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pandas as pd
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from ingest import config as wf_config
from ingest.adapters import READERS
from ingest.errors import HostileInputError, UnreadableInputError, WatchfloorError
from ingest.feeds.config import HttpFeed
from ingest.feeds.errors import FeedError, FeedFetchError, FeedRefusedError
from ingest.feeds.health import classify
from ingest.feeds.health import to_utc as _ts
from ingest.feeds.netguard import PinnedAdapter, Resolver, Target, check_url, redact
from ingest.pipeline import IngestSummary, ingest_results
from ingest.store.base import FeedStatus, Store

log = logging.getLogger("watchfloor.feeds")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "watchfloor-feeds/0.1"


def user_agent() -> str:
    """The User-Agent names the runner's process (not its host: a feed may be outside the mission
    network), so a source's access log shows which of several runners polled, one at a time."""
    return f"{USER_AGENT} (pid {os.getpid()})"
# Whole-download deadline, as a multiple of timeout_s (at least DOWNLOAD_MIN_S):
# the read timeout alone restarts with every byte, so a server trickling one
# byte every few seconds would never time out.
DOWNLOAD_FACTOR = 6
DOWNLOAD_MIN_S = 30.0
_EXT = {"tracks-csv": ".csv", "acled-csv": ".csv", "cot": ".xml", "gpx": ".gpx"}

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fetched:
    """The outcome of the HTTP part of a poll."""

    status_code: int
    body: bytes | None
    etag: str | None
    last_modified: str | None
    url: str  # final URL after redirects (redacted)
    retries: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304


@dataclass
class PollResult:
    feed: str
    outcome: str  # "ingested" | "not-modified" | "failed"
    summary: IngestSummary | None = None
    error: str | None = None
    http_status: int | None = None
    delay_s: float = 0.0  # until the next poll
    status: FeedStatus | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    def line(self) -> str:
        """One line for the CLI: what the poll did."""
        if self.outcome == "ingested" and self.summary is not None:
            return f"feed {self.feed}: {self.summary.layer}: {self.summary.line()}"
        if self.outcome == "not-modified":
            return f"feed {self.feed}: not modified since the last poll (HTTP 304)"
        return f"feed {self.feed}: failed: {self.error}"


def backoff_delay(interval_s: float, cap_s: float, failures: int) -> float:
    """Seconds until the next poll: the interval, doubled per consecutive failure, capped."""
    if failures <= 0:
        return interval_s
    return min(interval_s * 2.0 ** min(failures - 1, 40), max(cap_s, interval_s))


class HttpPoller:
    """Polls one `HttpFeed` into a store. Not thread-safe: one thread per poller."""

    def __init__(self, feed: HttpFeed, store: Store, *, resolver: Resolver | None = None,
                 staging_dir: Path | None = None, state_dir: Path | None = None,
                 write_lock: threading.Lock | None = None, clock: Clock = utcnow) -> None:
        self.feed, self.store, self.resolver, self.clock = feed, store, resolver, clock
        self.staging_dir = Path(staging_dir) if staging_dir else wf_config.home() / "staging" / "feeds"
        self.state_dir = Path(state_dir) if state_dir else wf_config.home() / "feeds-state"
        self.write_lock = write_lock
        self.last_success: pd.Timestamp | None = None
        self.consecutive_failures = 0
        self.etag: str | None = None
        self.last_modified: str | None = None
        known = self._previous_status()
        if known is not None:
            # Carry state across restarts (cron --once): staleness and backoff continue,
            # and the conditional-request validators are only trusted for a store that
            # already holds this feed (a fresh store must get the full payload).
            self.last_success = _ts(known.get("last_success"))
            self.consecutive_failures = int(known.get("consecutive_failures") or 0)
            self._load_validators()

    # -- the poll ------------------------------------------------------------
    def poll(self, now: datetime | None = None) -> PollResult:
        """Fetch, ingest, record the status. Never raises for a problem with the feed."""
        now = now or self.clock()
        try:
            fetched = self.fetch()
            if fetched.not_modified:
                result = PollResult(self.feed.name, "not-modified", http_status=304)
            else:
                summary = self._ingest(fetched.body or b"", now)
                self._save_validators(fetched)
                result = PollResult(self.feed.name, "ingested", summary=summary,
                                    http_status=fetched.status_code)
            self.last_success = pd.Timestamp(now)
            self.consecutive_failures = 0
        except FeedError as exc:
            result = self._failed(exc.reason, exc)
        except WatchfloorError as exc:  # store trouble, schema trouble: reported, not fatal
            result = self._failed(str(exc), exc)
        except Exception as exc:  # a bug must not stop the other feeds
            log.exception("feed %s: unexpected error", self.feed.name)
            result = self._failed(f"unexpected error: {type(exc).__name__}: {exc}", exc)
        result.delay_s = backoff_delay(self.feed.interval_s, self.feed.backoff_cap_s,
                                       self.consecutive_failures)
        result.status = self._status(result, now)
        self._put_status(result.status)
        return result

    def _failed(self, reason: str, exc: BaseException) -> PollResult:
        self.consecutive_failures += 1
        level = logging.WARNING if isinstance(exc, (FeedError, WatchfloorError)) else logging.ERROR
        log.log(level, "feed %s: poll failed (%d in a row): %s", self.feed.name,
                self.consecutive_failures, reason)
        return PollResult(self.feed.name, "failed", error=reason, http_status=getattr(exc, "code", None))

    def _status(self, result: PollResult, now: datetime) -> FeedStatus:
        ts = pd.Timestamp(now)
        state = "ok"
        if not result.ok:
            state = classify(last_success=self.last_success, last_attempt=ts,
                             consecutive_failures=self.consecutive_failures, stored_state=None,
                             stale_after_s=self.feed.stale_after_s, now=now)
        s = result.summary
        return FeedStatus(
            feed=self.feed.name,
            kind=self.feed.kind,
            state=state,
            last_attempt=ts,
            last_success=self.last_success,
            last_error=result.error,
            consecutive_failures=self.consecutive_failures,
            records_last=s.read if s else 0,
            quarantined_last=s.quarantined if s else 0,
            interval_s=self.feed.interval_s,
            next_attempt=ts + timedelta(seconds=result.delay_s),
            marking=self.feed.default_marking,
        )

    def _put_status(self, status: FeedStatus) -> None:
        try:
            with self.write_lock or nullcontext():
                self.store.put_feed_status(status)
        except Exception:  # a status we cannot write must not stop polling
            log.exception("feed %s: could not record the feed status", self.feed.name)

    def _previous_status(self) -> dict[str, Any] | None:
        try:
            table = self.store.feed_status()
        except Exception:  # no status yet is not an error
            log.debug("feed %s: no previous status", self.feed.name, exc_info=True)
            return None
        rows = table[table["feed"] == self.feed.name] if len(table) else table
        return rows.iloc[0].to_dict() if len(rows) else None

    # -- HTTP ------------------------------------------------------------------
    def fetch(self) -> Fetched:
        """GET the feed URL, following at most `max_redirects` redirects, each re-checked."""
        feed = self.feed
        url = feed.url
        origin: tuple[str, str, int] | None = None
        for _hop in range(feed.max_redirects + 1):
            target = check_url(url, feed.allow_hosts, resolver=self.resolver, feed=feed.name)
            origin = origin or target.origin
            headers = {"Host": target.host_header, "User-Agent": user_agent()}
            if target.origin == origin:
                # Configured headers (tokens) go to the feed's own origin only, never to
                # wherever a redirect points.
                headers.update(feed.headers)
            if self.etag:
                headers["If-None-Match"] = self.etag
            if self.last_modified:
                headers["If-Modified-Since"] = self.last_modified
            response = self._get(target, headers)
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                response.close()
                if not location:
                    raise FeedFetchError(feed.name, f"HTTP {response.status_code} redirect without a "
                                                    f"Location header from {redact(target.url)}")
                url = urljoin(target.url, location.strip())
                log.info("feed %s: redirected to %s", feed.name, redact(url))
                continue
            return self._read(response, target)
        raise FeedRefusedError(redact(feed.url), f"more than {feed.max_redirects} redirects "
                                                 f"(the last one to {redact(url)})", feed.name)

    def _retry(self) -> Retry:
        n = self.feed.max_retries
        return Retry(
            total=n, connect=n, read=n, status=n, other=0,
            redirect=False,  # redirects come back to `fetch`, which re-checks each hop
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.feed.retry_backoff_s,
            backoff_max=self.feed.backoff_cap_s,
            raise_on_status=False,
            respect_retry_after_header=False,
        )

    def _get(self, target: Target, headers: dict[str, str]) -> requests.Response:
        feed = self.feed
        session = requests.Session()
        # No proxies, .netrc or CA variables from the environment: a proxy would resolve
        # the host itself (defeating the address check) and .netrc would leak credentials.
        session.trust_env = False
        adapter = PinnedAdapter(target.host, max_retries=self._retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.get(target.pinned_url, headers=headers, allow_redirects=False,
                                   stream=True, timeout=(feed.timeout_s, feed.timeout_s),
                                   verify=feed.ca_bundle or True)
        except requests.RequestException as exc:
            session.close()
            raise FeedFetchError(feed.name, f"{redact(target.url)}: {self._describe(exc)}") from None
        response._watchfloor_session = session  # type: ignore[attr-defined]  # closed with the body
        return response

    def _describe(self, exc: BaseException) -> str:
        """A short reason for a failed request (the exception chain of requests is long)."""
        attempts = self.feed.max_retries + 1
        inner: object = exc.args[0] if exc.args else None
        reason = inner.reason if isinstance(inner, MaxRetryError) else inner
        tries = f" ({attempts} attempt{'s' if attempts > 1 else ''})"
        if isinstance(reason, NewConnectionError):  # checked first: urllib3 derives it from ConnectTimeoutError
            return f"connection failed{tries}: {str(reason).split(': ', 1)[-1]}"
        if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError):
            return f"could not connect within {self.feed.timeout_s:g} s{tries}"
        if isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
            return f"no response within the {self.feed.timeout_s:g} s timeout{tries}"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"TLS error: {reason or exc}"
        return f"{type(exc).__name__}: {reason or exc}"

    def _read(self, response: requests.Response, target: Target) -> Fetched:
        feed = self.feed
        session = getattr(response, "_watchfloor_session", None)
        try:
            history = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
            retries = len(history)
            code = response.status_code
            if code == 304:
                return Fetched(304, None, self.etag, self.last_modified, redact(target.url), retries)
            if not 200 <= code < 300:
                after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
                raise _HttpStatusError(code, feed.name,
                                       f"HTTP {code} {response.reason or ''}".rstrip()
                                       + f" from {redact(target.url)}{after}")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > feed.max_bytes:
                raise FeedFetchError(feed.name, f"response of {int(length)} bytes exceeds max_bytes "
                                                f"({feed.max_bytes})")
            limit = max(DOWNLOAD_MIN_S, DOWNLOAD_FACTOR * feed.timeout_s)
            deadline = time.monotonic() + limit
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_content(65536):
                    size += len(chunk)
                    if size > feed.max_bytes:
                        raise FeedFetchError(feed.name, f"response exceeds max_bytes ({feed.max_bytes} "
                                                        "bytes, after decompression)")
                    if time.monotonic() > deadline:
                        raise FeedFetchError(feed.name, f"download took longer than {limit:g} s")
                    chunks.append(chunk)
            except requests.RequestException as exc:
                raise FeedFetchError(feed.name, f"{redact(target.url)}: body: {self._describe(exc)}") from None
            return Fetched(code, b"".join(chunks), response.headers.get("ETag"),
                           response.headers.get("Last-Modified"), redact(target.url), retries)
        finally:
            response.close()
            if session is not None:
                session.close()

    # -- payload -> store ---------------------------------------------------------
    def _ingest(self, body: bytes, now: datetime) -> IngestSummary:
        feed = self.feed
        fixed_layer, reader = READERS[feed.format]
        self.staging_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.staging_dir / f"{uuid.uuid4().hex}{_EXT.get(feed.format, '.json')}"
        options = dict(feed.options)
        if fixed_layer is None:
            options["layer"] = feed.layer
        try:
            with open(path, "xb") as fh:  # "x": a generated name never overwrites anything
                fh.write(body)
            try:
                result = reader(path, source=feed.source, **options)
            except HostileInputError as exc:
                raise FeedFetchError(feed.name, f"payload refused as hostile ({feed.format}): "
                                                f"{exc.reason}") from None
            except UnreadableInputError as exc:
                raise FeedFetchError(feed.name, f"payload is not readable as {feed.format}: "
                                                f"{exc.reason}") from None
        finally:
            path.unlink(missing_ok=True)
        with self.write_lock or nullcontext():
            summary = ingest_results(self.store, result, source=feed.source,
                                     default_marking=feed.default_marking, now=now)
        log.info("feed %s: %s", feed.name, summary.line())
        return summary

    # -- conditional-request validators -------------------------------------------
    @property
    def _state_file(self) -> Path:
        digest = hashlib.sha256(self.feed.name.encode()).hexdigest()[:24]
        return self.state_dir / f"{digest}.json"

    def _load_validators(self) -> None:
        try:
            data = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("url") == self.feed.url:
            self.etag = data.get("etag") if isinstance(data.get("etag"), str) else None
            lm = data.get("last_modified")
            self.last_modified = lm if isinstance(lm, str) else None

    def _save_validators(self, fetched: Fetched) -> None:
        self.etag, self.last_modified = fetched.etag, fetched.last_modified
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self._state_file.with_suffix(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps({"feed": self.feed.name, "url": self.feed.url,
                                       "etag": self.etag, "last_modified": self.last_modified}))
            os.replace(tmp, self._state_file)
        except OSError as exc:  # only an optimisation: the next poll fetches in full
            log.warning("feed %s: could not save ETag/Last-Modified: %s", self.feed.name, exc)


class _HttpStatusError(FeedFetchError):
    """A non-2xx, non-304 final status (after retries); `code` is the status."""

    def __init__(self, code: int, feed: str, reason: str) -> None:
        super().__init__(feed, reason)
        self.code = code

