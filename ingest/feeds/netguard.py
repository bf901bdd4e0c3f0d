"""Server-side request forgery guard for feed pollers.

A feed URL comes from a config file, and every redirect's `Location` comes
from a remote server. Either can point the poller at something that only the
watchfloor host can reach: the cloud metadata service (169.254.169.254), an
admin page on loopback, a database on the private network. The poller then
fetches it with the host's privileges and may even store its answer where a
dashboard user can read it. So before any traffic:

1. the scheme must be http or https (case-insensitive: `HTTP://127.0.0.1` is
   judged like `http://127.0.0.1`); `file:`, `gopher:`, `ftp:` ... are refused;
2. the host is resolved once, here, and every address it resolves to must be
   public: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
   link-local (169.254/16, fe80::/10), multicast, unspecified, reserved,
   carrier-grade NAT, documentation and other non-global ranges are refused,
   IPv4 addresses embedded in IPv6 (::ffff:a.b.c.d, 6to4, Teredo, NAT64)
   included; numeric shorthands the C library accepts (`127.1`,
   `0x7f000001`, `2130706433`) are read as the address they denote;
3. unless the feed's `allow_hosts` names the host, or lists an address or
   CIDR that contains the resolved address: an operator can allow a partner's
   server on the private network, and nothing else;
4. the connection is then made to the address that was checked, not to the
   name (`PinnedAdapter`): requests would otherwise resolve the name again,
   and a DNS answer that changes between check and use (DNS rebinding) would
   walk around the check. TLS still verifies the certificate against the
   host name (SNI and hostname check use the name, the TCP connection the
   address);
5. redirects are not followed by requests; the poller follows them itself,
   at most `max_redirects` hops, and runs every hop through `check_url`.

Residual risks (documented, not fixed here): an allow-listed *name* is trusted
whatever it resolves to, so whoever controls that name's DNS chooses the
address; only the first checked address is tried (no fallback to the next A
record); proxies from the environment are deliberately ignored (a proxy would
resolve the name itself and make the check meaningless), so a site that can
only reach the internet through a proxy cannot use the pollers as they are.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from requests.adapters import HTTPAdapter

from ingest.feeds.errors import FeedFetchError, FeedRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Sequence[str]]
"""A function from a host name to the IP addresses it resolves to (as text).

Injectable so tests can make a name resolve to 10.0.0.5 without any DNS."""

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Named ranges, most specific first, so a refusal says what the address is.
# Anything not global that is not listed still falls to the generic reason.
_LABELLED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("169.254.169.254/32", "link-local cloud metadata service"),
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated private)"),
        ("fc00::/7", "private (unique local)"),
        ("ff00::/8", "multicast"),
        ("2001:db8::/32", "documentation"),
        ("100::/64", "discard-only"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CTRL = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class AllowList:
    """Hosts a feed may reach even though they are not public.

    `names` match the URL's host name exactly (case-insensitive, trailing dot
    ignored); `networks` match the resolved address (a single IP is a /32 or
    /128)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Build from config strings: host names, IPs (`[::1]` accepted) or CIDRs.

        Raises ValueError naming the first entry that is none of these."""
        names: set[str] = set()
        nets: list[IPNetwork] = []
        for raw in entries:
            entry = str(raw).strip().lower().rstrip(".")
            if entry.startswith("[") and entry.endswith("]"):
                entry = entry[1:-1]
            if not entry:
                raise ValueError(f"an empty entry ({raw!r})")
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", entry):
                raise ValueError(f"a host name, IP address or CIDR, found {raw!r}")
            names.add(entry)
        return cls(frozenset(names), tuple(nets))

    def allows_name(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.names

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)


NOTHING_ALLOWED = AllowList()


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, with the address the connection must use."""

    url: str  # as asked, scheme lower-cased, credentials removed
    scheme: str
    host: str  # host name (or IP literal) from the URL, lower-case, no brackets
    port: int
    ip: str  # the checked address to connect to
    path: str = field(default="/")  # path and query, as sent

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by the checked address (what requests is given)."""
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{ip}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        """The Host header the server expects: the name, with the port if not the default."""
        host = f"[{self.host}]" if ":" in self.host else _ascii_host(self.host)
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): configured headers are only sent to the feed's own origin."""
        return self.scheme, self.host, self.port


def redact(url: str) -> str:
    """The URL for logs and statuses: no user:password, no query (API keys live there)."""
    try:
        p = urlsplit(url)
        netloc = p.netloc.rpartition("@")[2]
        return urlunsplit((p.scheme, netloc, p.path, "…" if p.query else "", ""))
    except ValueError:
        return "<unparseable URL>"


def system_resolver(host: str) -> list[str]:
    """Every address the system resolver gives for `host` (A and AAAA), de-duplicated."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    out: list[str] = []
    for *_, sockaddr in infos:
        addr = str(sockaddr[0]).split("%", 1)[0]
        if addr not in out:
            out.append(addr)
    return out


def non_public_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public internet address (e.g. 'loopback'), or None if it is."""
    embedded: list[ipaddress.IPv4Address] = []
    if isinstance(ip, ipaddress.IPv6Address):
        for v4 in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if v4 is not None:
                embedded.append(v4)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for v4 in embedded:
        inner = non_public_reason(v4)
        if inner:
            return f"{inner} (IPv4 {v4} embedded in IPv6)"
    for net, label in _LABELLED:
        if ip.version == net.version and ip in net:
            return f"{label} ({net})"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _literal(host: str) -> IPAddress | None:
    """`host` as an IP address if it is one, including the C library's shorthands.

    `127.1`, `0x7f.1` and `2130706433` all mean 127.0.0.1 to inet_aton, and
    therefore to the socket the request would open; reading them here means
    an injected resolver cannot be bypassed with them."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host) and re.match(r"[0-9]", host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise FeedRefusedError(repr(url), "expected an http or https URL, found an empty value")
    try:
        return urlsplit(url.strip())
    except ValueError as exc:
        raise FeedRefusedError(redact(url), f"not a valid URL ({exc})") from None


def check_url(url: str, allow: AllowList = NOTHING_ALLOWED, *, resolver: Resolver | None = None,
              feed: str = "?") -> Target:
    """Judge `url` before any traffic; return where to connect, or raise FeedRefusedError.

    Every address the host resolves to must be public or allowed: one private
    answer among public ones is refused too (an attacker's DNS can mix them).
    A name that does not resolve raises FeedFetchError (a network problem,
    not a refusal).
    """
    parts = _split(url)
    shown = redact(url)
    scheme = parts.scheme.lower()  # urlsplit already lower-cases; kept explicit on purpose
    if scheme not in ALLOWED_SCHEMES:
        raise FeedRefusedError(
            shown, f"scheme {scheme or '(none)'!r} is not allowed: only http and https", feed)
    netloc = parts.netloc.rpartition("@")[2]
    if _CTRL.search(parts.netloc):
        raise FeedRefusedError(shown, f"the host part {parts.netloc!r} contains a backslash, space or "
                                      "control character; ambiguous URLs are refused", feed)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FeedRefusedError(shown, "the URL has no host", feed)
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise FeedRefusedError(shown, "the port is not a number in 1..65535", feed) from None
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = list((resolver or system_resolver)(host))
        except (OSError, UnicodeError) as exc:
            raise FeedFetchError(feed, f"cannot resolve host {host!r} of {shown}: {exc}") from None
        if not found:
            raise FeedFetchError(feed, f"host {host!r} of {shown} resolves to no address")
        addresses = []
        for a in found:
            try:
                addresses.append(ipaddress.ip_address(str(a).split("%", 1)[0]))
            except ValueError:
                raise FeedRefusedError(shown, f"resolver returned {a!r}, which is not an IP address",
                                       feed) from None
    if not allow.allows_name(host):
        for ip in addresses:
            why = non_public_reason(ip)
            if why and not allow.allows_ip(ip):
                where = f"{host} is" if literal is not None else f"{host} resolves to {ip}, which is"
                raise FeedRefusedError(
                    shown,
                    f"{where} not a public address: {why}; feeds may only reach public addresses "
                    f"unless the feed's allow_hosts lists the host, address or network",
                    feed,
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    clean = urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    return Target(clean, scheme, host.lower(), port, str(addresses[0]), path)


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that keeps TLS checks on the host name while the URL holds the IP.

    The poller asks for `Target.pinned_url` (the checked IP) with a Host
    header naming the host; for https this adapter makes urllib3 send the
    name as SNI and verify the certificate against the name, so pinning costs
    no TLS safety. Uses `build_connection_pool_key_attributes`, the extension
    point requests (>= 2.32) documents for this purpose.
    """

    def __init__(self, server_hostname: str, **kwargs: Any) -> None:
        self.server_hostname = _ascii_host(server_hostname)
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[override]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self.server_hostname
            pool_kwargs["assert_hostname"] = self.server_hostname
        return host_params, pool_kwargs
