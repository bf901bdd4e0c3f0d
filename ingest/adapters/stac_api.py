"""Search a STAC API over HTTP (pystac-client) -> `imagery` footprints.

    search_stac_api("https://earth-search.aws.element84.com/v1", source="earth-search",
                    bbox=(20.0, 41.8, 21.8, 43.3), datetime="2026-11-01/2026-11-21",
                    collections=["sentinel-2-l2a"], max_cloud=20)

pystac-client does the STAC API work: it reads the landing page and its
conformance classes, finds the search endpoint, sends bbox / datetime /
collections / limit (POST by default, as the spec prefers) and follows the
`next` links of the result pages, merging POST bodies as the links say.
Each Item is mapped by `stac.item_row`, exactly as a saved search result
would be, so a live search and a file of the same items give the same rows.

Cloud cover (`max_cloud`, percent): sent with the Query extension
(`eo:cloud_cover lte N`) when the API declares it, else with the Filter
extension (CQL2, `eo:cloud_cover <= N`) when it declares that, else not sent;
and checked here on every returned item as well, because servers differ in
what they honour. Items that state a cover above the limit were not asked
for: they are left out and not counted as records read. Items without an
`eo:cloud_cover` (radar, say) are kept.

Limits: `max_items` items in all and `max_pages` pages, whichever comes
first (a catalogue with a broken `next` link could otherwise page forever),
`timeout` seconds per request, responses above `max_response_bytes` refused.

Network safety. Only http and https URLs are accepted, for the landing page
and for every URL the catalogue later points to (search endpoint, `next`
links, redirects); anything else, including a relative or file path that
pystac would open from local disk, is HostileInputError. Those later URLs
must also stay on the landing page's host or on one of `allowed_hosts`, so a
catalogue cannot bounce us to another machine. Which hosts a deployment may
reach at all (no private or link-local addresses unless configured) is the
caller's policy, to be passed in through `allowed_hosts` / checked before the
call: the feed layer's SSRF guard owns that decision, this module only
enforces scheme and host consistency.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime as _datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import pystac
import requests
from pystac_client import Client, ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO

from ingest.adapters.base import ReadResult
from ingest.adapters.common import Outcome, frame_and_rejections
from ingest.adapters.stac import LAYER, item_row
from ingest.errors import ConfigError, HostileInputError, UnreadableInputError

DEFAULT_MAX_ITEMS = 500
DEFAULT_MAX_PAGES = 20
DEFAULT_PAGE_SIZE = 100
DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 5
SCHEMES = ("http", "https")


def check_url(url: str, *, hosts: Collection[str] | None = None) -> str:
    """`url` if it is http(s) with a host (in `hosts`, when given); else HostileInputError."""
    text = str(url)
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise HostileInputError(text, "not a valid URL") from None
    if parts.scheme.lower() not in SCHEMES:
        raise HostileInputError(
            text, f"only http and https URLs are allowed, found scheme {parts.scheme or 'none'!r}"
        )
    if not host:
        raise HostileInputError(text, "URL has no host")
    if hosts is not None and host.lower() not in hosts:
        raise HostileInputError(
            text, f"host {host!r} is not the catalogue's host or an allowed host {sorted(hosts)}"
        )
    return text


class _GuardedSession(requests.Session):
    """A Session that checks every redirect target before following it."""

    def __init__(self, check: Any) -> None:
        super().__init__()
        self._check = check
        self.max_redirects = MAX_REDIRECTS

    def get_redirect_target(self, resp: requests.Response) -> str | None:  # type: ignore[override]
        target = super().get_redirect_target(resp)
        if target:
            self._check(urljoin(resp.url, target))
        return target


class GuardedStacApiIO(StacApiIO):
    """StacApiIO that only requests checked http(s) URLs and caps response sizes."""

    def __init__(
        self,
        *,
        hosts: set[str],
        timeout: float,
        max_bytes: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(headers=headers, timeout=timeout, max_retries=2)
        self.hosts = hosts
        self.max_bytes = max_bytes
        guarded = _GuardedSession(self.check)
        guarded.headers.update(self.session.headers)
        guarded.adapters = self.session.adapters
        self.session = guarded

    def check(self, href: str) -> str:
        return check_url(href, hosts=self.hosts)

    def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
        # pystac would read a non-URL href (e.g. a `next` link of "/etc/passwd")
        # from local disk: every href is checked here first.
        href = source.href if isinstance(source, pystac.Link) else str(source)
        self.check(href)
        return super().read_text(source, *args, **kwargs)

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        self.check(href)
        method = (method or "GET").upper()
        if method in ("POST", "PUT", "PATCH"):
            req = requests.Request(method=method, url=href, headers=headers, json=parameters)
        else:
            req = requests.Request(
                method=method, url=href, headers=headers, params=parameters or {}
            )
        prepped = self.session.prepare_request(req)
        try:
            resp = self.session.send(prepped, timeout=self.timeout, stream=True)
        except HostileInputError:
            raise
        except requests.RequestException as exc:
            raise APIError(f"{method} {href}: {exc}") from None
        with resp:
            body = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > self.max_bytes:
                    raise HostileInputError(
                        href, f"response larger than {self.max_bytes} bytes; refused"
                    )
            if not 200 <= resp.status_code < 300:
                snippet = bytes(body[:300]).decode("utf-8", errors="replace")
                raise APIError(f"{method} {href}: HTTP {resp.status_code}: {snippet}")
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise APIError(f"{method} {href}: response is not UTF-8 ({exc})") from None


def _cloud(props: Any) -> float | None:
    v = props.get("eo:cloud_cover") if isinstance(props, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def search_stac_api(
    url: str,
    *,
    source: str,
    bbox: Sequence[float] | None = None,
    datetime: str | Sequence[str | _datetime | None] | _datetime | None = None,
    collections: Sequence[str] | None = None,
    max_cloud: float | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
    max_pages: int = DEFAULT_MAX_PAGES,
    page_size: int = DEFAULT_PAGE_SIZE,
    method: str = "POST",
    allowed_hosts: Collection[str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    default_marking: str | None = None,
) -> ReadResult:
    """Search the STAC API at `url` and return the items as imagery rows.

    Raises HostileInputError for a refused URL (scheme, host) or oversized
    response, UnreadableInputError when the API cannot be reached or answers
    with an error, ConfigError for impossible limits. See the module docstring.
    """
    check_url(url)
    if max_items < 1 or max_pages < 1 or page_size < 1:
        raise ConfigError(
            "max_items/max_pages/page_size", "positive numbers", (max_items, max_pages, page_size)
        )
    if max_cloud is not None and not 0 <= max_cloud <= 100:
        raise ConfigError("max_cloud", "a percentage between 0 and 100", max_cloud)
    host = (urlsplit(url).hostname or "").lower()
    hosts = {host} | {h.lower() for h in (allowed_hosts or ())}
    io = GuardedStacApiIO(
        hosts=hosts, timeout=timeout, max_bytes=max_response_bytes, headers=headers
    )
    outcomes: list[Outcome] = []
    try:
        client = Client.open(url, stac_io=io, timeout=timeout)
        options: dict[str, Any] = {}
        if max_cloud is not None:
            if client.conforms_to(ConformanceClasses.QUERY):
                options["query"] = {"eo:cloud_cover": {"lte": max_cloud}}
            elif client.conforms_to(ConformanceClasses.FILTER):
                if method.upper() == "GET":
                    options["filter"] = f'"eo:cloud_cover" <= {max_cloud}'
                    options["filter_lang"] = "cql2-text"
                else:
                    options["filter"] = {
                        "op": "<=",
                        "args": [{"property": "eo:cloud_cover"}, max_cloud],
                    }
                    options["filter_lang"] = "cql2-json"
        search = client.search(
            method=method.upper(),
            bbox=list(bbox) if bbox is not None else None,
            datetime=datetime,
            collections=list(collections) if collections else None,
            max_items=max_items,
            limit=min(page_size, max_items),
            **options,
        )
        for pages, page in enumerate(search.pages_as_dicts(), start=1):
            for d in page.get("features", []):
                cover = _cloud(d.get("properties")) if isinstance(d, dict) else None
                if max_cloud is not None and cover is not None and cover > max_cloud:
                    continue
                outcomes.append(item_row(d, source=source))
            if pages >= max_pages:
                break
    except HostileInputError:
        raise
    except APIError as exc:
        raise UnreadableInputError(url, f"STAC API error: {exc}") from None
    except (pystac.STACError, pystac.STACTypeError, ValueError, KeyError) as exc:
        raise UnreadableInputError(url, f"not a usable STAC API: {exc}") from None
    frame, rejected = frame_and_rejections(LAYER, outcomes)
    return ReadResult(LAYER, frame, rejected, records_read=len(outcomes), default_marking=default_marking)
