"""Live feeds declared in a TOML file, parsed once into frozen dataclasses.

The file is `$WATCHFLOOR_HOME/feeds.toml` unless a path is given. Each feed is
one `[[feed]]` table:

    [[feed]]
    name = "partner-incidents"          # unique; used in statuses and logs
    kind = "http-json"                  # "http-json" | "cot-udp" | "cot-tcp" | "mavlink-udp"
    url = "https://feeds.example.org/incidents.geojson"
    format = "geojson-incidents"        # a name from ingest.adapters.READERS
    source = "partner-incidents"        # recorded on every record (default: name)
    default_marking = "UNCLASSIFIED//REL TO USA, GBR, FRA"
    interval_s = 60                     # seconds between polls
    timeout_s = 10                      # connect and read timeout of each request
    max_retries = 3                     # retries of one poll (connect, read, 500/502/503/504)
    backoff_cap_s = 600                 # cap of the backoff, within a poll and between polls
    stale_after_s = 120                 # default: 2 x interval_s
    allow_hosts = ["10.20.0.0/16"]      # non-public hosts/IPs/CIDRs this feed may reach

    [[feed]]
    name = "drones"
    kind = "cot-udp"
    host = "127.0.0.1"                  # default; listen on all interfaces with "0.0.0.0"
    port = 6969                         # TAK default (cot-tcp: 8087)
    # group = "239.2.3.1"               # join a multicast group (then not host; see interface)

    [[feed]]
    name = "gcs-telemetry"
    kind = "mavlink-udp"                # MAVLink datagrams (a ground station or autopilot
    port = 14550                        # forwarding telemetry); host 127.0.0.1 by default

Everything loose in the file is normalised here, once: kinds and formats are
case-insensitive, a single string is accepted where a list is expected,
integers where seconds are expected. Anything that cannot be normalised, and
any key this module does not know (a typo would otherwise be silently
ignored), raises `ConfigError` naming the file, the feed and the setting, with
what was expected and what was found.

Listeners bind to 127.0.0.1 by default, not 0.0.0.0: plain CoT over UDP/TCP
carries no authentication, so anyone who can reach the port can place tracks
on the picture. Listening beyond the host is a decision the config must state.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ingest import config as wf_config
from ingest.errors import ConfigError
from ingest.feeds.netguard import AllowList

KINDS = ("http-json", "cot-udp", "cot-tcp", "mavlink-udp")
TAK_UDP_PORT = 6969
TAK_TCP_PORT = 8087
MAVLINK_UDP_PORT = 14550  # the port ground stations listen on for telemetry
DEFAULT_PORTS = {"cot-udp": TAK_UDP_PORT, "cot-tcp": TAK_TCP_PORT, "mavlink-udp": MAVLINK_UDP_PORT}
DEFAULT_INTERVAL_S = 60.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF_S = 0.5
DEFAULT_BACKOFF_CAP_S = 600.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
DEFAULT_BATCH_S = 2.0
DEFAULT_BATCH_MAX = 500
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_IDLE_TIMEOUT_S = 300.0
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:@/-]{0,99}$")


@dataclass(frozen=True, kw_only=True)
class FeedBase:
    """Settings every feed has."""

    name: str
    kind: str
    source: str
    default_marking: str | None = None
    interval_s: float = DEFAULT_INTERVAL_S
    stale_after_s: float = 2 * DEFAULT_INTERVAL_S

    @property
    def is_http(self) -> bool:
        return self.kind == "http-json"


@dataclass(frozen=True, kw_only=True)
class HttpFeed(FeedBase):
    """A URL polled every `interval_s`; the payload is read by the `format` adapter."""

    url: str
    format: str
    layer: str | None = None  # only for formats that can hold any layer (plain "geojson")
    options: Mapping[str, Any] = field(default_factory=dict)  # passed to the reader (read-only)
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff_s: float = DEFAULT_RETRY_BACKOFF_S
    backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    allow_hosts: AllowList = field(default_factory=AllowList)
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None


@dataclass(frozen=True, kw_only=True)
class CotFeed(FeedBase):
    """A CoT listener. `interval_s` is how often it reports it is alive when idle."""

    host: str = "127.0.0.1"
    port: int = TAK_UDP_PORT
    group: str | None = None  # UDP only: IPv4 multicast group to join
    interface: str = "0.0.0.0"  # with group: address of the interface to join on
    batch_s: float = DEFAULT_BATCH_S
    batch_max: int = DEFAULT_BATCH_MAX
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # TCP only
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S  # TCP only: close silent peers


@dataclass(frozen=True, kw_only=True)
class MavlinkFeed(CotFeed):
    """A MAVLink UDP listener (`ingest.feeds.mavlink_listener`): the CoT UDP settings, no multicast."""


FeedConfig = HttpFeed | CotFeed


@dataclass(frozen=True)
class FeedsConfig:
    feeds: tuple[FeedConfig, ...]
    path: Path | None = None

    @property
    def http_feeds(self) -> tuple[HttpFeed, ...]:
        return tuple(f for f in self.feeds if isinstance(f, HttpFeed))

    @property
    def cot_feeds(self) -> tuple[CotFeed, ...]:
        return tuple(f for f in self.feeds if isinstance(f, CotFeed))

    def get(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)


_COMMON = {"name", "kind", "source", "default_marking", "interval_s", "stale_after_s"}
_HTTP = _COMMON | {"url", "format", "layer", "options", "timeout_s", "max_retries", "retry_backoff_s",
                   "backoff_cap_s", "max_bytes", "max_redirects", "allow_hosts", "headers", "ca_bundle"}
_UDP = _COMMON | {"host", "port", "group", "interface", "batch_s", "batch_max"}
_TCP = _COMMON | {"host", "port", "batch_s", "batch_max", "max_connections", "idle_timeout_s"}
_MAVLINK = _COMMON | {"host", "port", "batch_s", "batch_max"}
KEYS = {"http-json": _HTTP, "cot-udp": _UDP, "cot-tcp": _TCP, "mavlink-udp": _MAVLINK}


def default_path() -> Path:
    return wf_config.home() / "feeds.toml"


def load_config(path: Path | str | None = None) -> FeedsConfig:
    """Read and check the feeds file (default `$WATCHFLOOR_HOME/feeds.toml`)."""
    p = Path(path).expanduser() if path is not None else default_path()
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"feeds file {p}", "a TOML file with [[feed]] tables", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"feeds file {p}", "a readable UTF-8 TOML file", str(exc)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"feeds file {p}", "valid TOML", f"a syntax error: {exc}") from None
    return parse_config(doc, origin=p)


def parse_config(doc: Mapping[str, Any], *, origin: Path | str | None = None) -> FeedsConfig:
    """Check a parsed TOML document (a dict) and build the frozen config."""
    where = str(origin) if origin is not None else "feeds config"
    unknown = sorted(set(doc) - {"feed"})
    if unknown:
        raise ConfigError(f"{where}: top level", "only [[feed]] tables", f"keys {unknown}")
    raw = doc.get("feed", [])
    if isinstance(raw, Mapping):
        raise ConfigError(f"{where}: feed", "[[feed]] (an array of tables, double brackets)", "[feed]")
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: feed", "[[feed]] tables", type(raw).__name__)
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for i, table in enumerate(raw, start=1):
        feed = _parse_feed(table, f"{where}: [[feed]] #{i}")
        if feed.name in seen:
            raise ConfigError(f"{where}: [[feed]] #{i} name", "a name no other feed uses", feed.name)
        seen.add(feed.name)
        feeds.append(feed)
    return FeedsConfig(tuple(feeds), Path(origin) if origin is not None else None)


class _Reader:
    """Pulls typed values out of one [[feed]] table, raising ConfigError with context."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        self.t, self.where = table, where

    def err(self, key: str, expected: str, found: Any) -> ConfigError:
        return ConfigError(f"{self.where} {key}", expected, found)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        v = self.t.get(key)
        if v is None:
            if required:
                raise self.err(key, "a non-empty string", "nothing (the setting is required)")
            return default
        if not isinstance(v, str) or not v.strip():
            raise self.err(key, "a non-empty string", v)
        return v.strip()

    def number(self, key: str, default: float, *, minimum: float = 0.0, strict: bool = True) -> float:
        v = self.t.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            raise self.err(key, "a number of seconds", v)
        if (v <= minimum) if strict else (v < minimum):
            raise self.err(key, f"a number {'>' if strict else '>='} {minimum:g}", v)
        return float(v)

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        v = self.t.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise self.err(key, f"a whole number in {lo}..{hi}", v)
        if not lo <= v <= hi:
            raise self.err(key, f"a whole number in {lo}..{hi}", v)
        return v


def _parse_feed(table: Any, where: str) -> FeedConfig:
    if not isinstance(table, Mapping):
        raise ConfigError(where, "a table of settings", table)
    r = _Reader(table, where)
    name = r.text("name", required=True)
    assert name is not None
    if not _NAME.match(name):
        raise r.err("name", "1-100 letters, digits, spaces or ._:@/- starting with a letter or digit", name)
    r.where = f"{where} ({name!r})"
    kind_raw = r.text("kind", required=True)
    kind = (kind_raw or "").lower().replace("_", "-")
    if kind not in KINDS:
        raise r.err("kind", f"one of {', '.join(KINDS)}", kind_raw)
    unknown = sorted(set(table) - KEYS[kind])
    if unknown:
        raise r.err(unknown[0], f"a setting of a {kind} feed ({', '.join(sorted(KEYS[kind]))})",
                    f"unknown setting {unknown[0]!r}")
    interval = r.number("interval_s", DEFAULT_INTERVAL_S)
    common: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "source": r.text("source", name),
        "default_marking": r.text("default_marking"),
        "interval_s": interval,
        "stale_after_s": r.number("stale_after_s", 2 * interval),
    }
    if kind == "http-json":
        return _http_feed(r, common)
    return _cot_feed(r, common, kind)


def _http_feed(r: _Reader, common: dict[str, Any]) -> HttpFeed:
    from ingest.adapters import READERS  # imported here: config parsing stays cheap for tooling

    url = r.text("url", required=True)
    assert url is not None
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url)
    if not m or m.group(1).lower() not in ("http", "https"):
        raise r.err("url", "an http:// or https:// URL", url)
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise r.err("url", "a valid http(s) URL", f"{url} ({exc})") from None
    if not parts.hostname:
        raise r.err("url", "a URL with a host", url)
    if "@" in parts.netloc:
        raise r.err("url", "a URL without user:password@ (put credentials in headers, "
                           "with ${ENV_VAR} values)", "credentials in the URL")
    fmt_raw = r.text("format", required=True)
    fmt = (fmt_raw or "").lower()
    if fmt not in READERS:
        raise r.err("format", f"an adapter name: one of {', '.join(sorted(READERS))}", fmt_raw)
    layer = r.text("layer")
    fixed_layer = READERS[fmt][0]
    if fixed_layer is None and layer is None:
        raise r.err("layer", f"the target layer (format {fmt!r} can hold any layer)", None)
    if fixed_layer is not None and layer is not None and layer != fixed_layer:
        raise r.err("layer", f"{fixed_layer!r} (fixed by format {fmt!r}) or nothing", layer)
    if layer is not None:
        from ingest.schema import LAYERS

        if layer not in LAYERS:
            raise r.err("layer", f"one of {', '.join(LAYERS)}", layer)
    options = r.t.get("options", {})
    if not isinstance(options, Mapping):
        raise r.err("options", "a table of reader options", options)
    if "layer" in options or "source" in options:
        raise r.err("options", "reader options other than layer/source (set those on the feed)",
                    sorted(options))
    allow_raw = r.t.get("allow_hosts", [])
    if isinstance(allow_raw, str):
        allow_raw = [allow_raw]
    if not isinstance(allow_raw, list):
        raise r.err("allow_hosts", "a list of host names, IPs or CIDRs", allow_raw)
    try:
        allow = AllowList.parse(allow_raw)
    except ValueError as exc:
        raise r.err("allow_hosts", "a list of host names, IPs or CIDRs", str(exc)) from None
    interval = common["interval_s"]
    cap = r.number("backoff_cap_s", max(DEFAULT_BACKOFF_CAP_S, interval))
    if cap < interval:
        raise r.err("backoff_cap_s", f"a number >= interval_s ({interval:g})", cap)
    ca = r.text("ca_bundle")
    if ca is not None and not Path(ca).expanduser().exists():
        raise r.err("ca_bundle", "the path of a CA certificate file or folder", f"{ca} (does not exist)")
    return HttpFeed(
        **common,
        url=url,
        format=fmt,
        layer=layer or fixed_layer,
        options=MappingProxyType(dict(options)),
        timeout_s=r.number("timeout_s", DEFAULT_TIMEOUT_S),
        max_retries=r.integer("max_retries", DEFAULT_MAX_RETRIES, 0, 10),
        retry_backoff_s=r.number("retry_backoff_s", DEFAULT_RETRY_BACKOFF_S, strict=False),
        backoff_cap_s=cap,
        max_bytes=r.integer("max_bytes", DEFAULT_MAX_BYTES, 1, 2**40),
        max_redirects=r.integer("max_redirects", DEFAULT_MAX_REDIRECTS, 0, 10),
        allow_hosts=allow,
        headers=MappingProxyType(_headers(r)),
        ca_bundle=str(Path(ca).expanduser()) if ca else None,
    )


def _headers(r: _Reader) -> dict[str, str]:
    """Request headers; a value `${NAME}` is read from the environment so secrets stay out of the file."""
    raw = r.t.get("headers", {})
    if not isinstance(raw, Mapping):
        raise r.err("headers", "a table of header names to string values", raw)
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9-]+", str(k)):
            raise r.err(f"headers.{k}", "a header name (letters, digits, -) with a string value", v)
        if k.lower() in ("host", "if-none-match", "if-modified-since", "content-length"):
            raise r.err(f"headers.{k}", "a header the poller does not set itself", k)
        m = _ENV_REF.match(v.strip())
        if m:
            env = os.environ.get(m.group(1))
            if env is None:
                raise r.err(f"headers.{k}", f"environment variable {m.group(1)} to be set", "it is not set")
            v = env
        if any(c in v for c in "\r\n\x00"):
            raise r.err(f"headers.{k}", "a value without line breaks", "a line break")
        out[str(k)] = v
    return out


def _cot_feed(r: _Reader, common: dict[str, Any], kind: str) -> CotFeed:
    group = r.text("group")
    host = r.text("host")
    if group is not None:
        try:
            g = ipaddress.ip_address(group)
        except ValueError:
            g = None
        if g is None or g.version != 4 or not g.is_multicast:
            raise r.err("group", "an IPv4 multicast address (224.0.0.0/4), e.g. TAK's 239.2.3.1", group)
        if host is not None:
            raise r.err("host", "nothing when group is set (the socket binds the group; choose the "
                                "network card with interface)", host)
    interface = r.text("interface", "0.0.0.0")
    assert interface is not None
    if group is None and "interface" in r.t:
        raise r.err("interface", "nothing unless group is set (use host to choose the address)", interface)
    try:
        if ipaddress.ip_address(interface).version != 4:
            raise ValueError
    except ValueError:
        raise r.err("interface", "an IPv4 address of a local network card", interface) from None
    if host is not None:
        try:
            ipaddress.ip_address(host.strip("[]"))
            host = host.strip("[]")
        except ValueError:
            if host.lower() != "localhost":
                raise r.err("host", "an IP address to listen on (127.0.0.1, 0.0.0.0, ::1, ...)", host) from None
    return (MavlinkFeed if kind == "mavlink-udp" else CotFeed)(
        **common,
        host=host or "127.0.0.1",
        port=r.integer("port", DEFAULT_PORTS[kind], 0, 65535),
        group=group,
        interface=interface,
        batch_s=r.number("batch_s", DEFAULT_BATCH_S),
        batch_max=r.integer("batch_max", DEFAULT_BATCH_MAX, 1, 1_000_000),
        max_connections=r.integer("max_connections", DEFAULT_MAX_CONNECTIONS, 1, 10_000),
        idle_timeout_s=r.number("idle_timeout_s", DEFAULT_IDLE_TIMEOUT_S),
    )
