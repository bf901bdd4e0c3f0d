"""Errors of the live feeds, kept in this package so `ingest/errors.py` stays untouched.

All derive from `WatchfloorError`, so the CLI reports them as diagnosed
problems (exit 2, one line) rather than tracebacks. The runner catches them
per poll and records the message in the feed's status: a feed that fails
never stops the other feeds.
"""

from __future__ import annotations

from ingest.errors import WatchfloorError


class FeedError(WatchfloorError):
    """A feed could not be polled or read this time (network, HTTP status, size, payload)."""

    def __init__(self, feed: str, reason: str) -> None:
        self.feed, self.reason = feed, reason
        super().__init__(f"feed {feed!r}: {reason}")


class FeedRefusedError(FeedError):
    """A request was refused before any traffic because of where it would go.

    Raised by `netguard` for a scheme other than http/https, or a host that
    resolves to a loopback, private, link-local, multicast, unspecified or
    reserved address not listed in the feed's `allow_hosts` (server-side
    request forgery: a feed URL or a redirect pointing at the cloud metadata
    service or an internal admin page). `why` says which rule refused it (`reason` adds the URL).
    """

    def __init__(self, url: str, why: str, feed: str = "?") -> None:
        self.url, self.why = url, why
        super().__init__(feed, f"refused {url}: {why}")


class FeedFetchError(FeedError):
    """The request went out but did not give a usable payload (timeout, 5xx, too big)."""
