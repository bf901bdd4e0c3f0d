"""The Leaflet map's offline guarantees: vendored assets only, local tiles only.

Every <script>/<link> folium and its plugins would take from a CDN points at a file vendored
under dashboard/static/vendor/ (see its README.md), served by Streamlit at /app/static/vendor/;
`check_offline` refuses a map that still references anything else, and `check_tile_url` any
raster tile source that is not the app's own origin or loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import folium
from folium.elements import JSCSSMixin

# --- where the vendored assets are served ------------------------------------------------------

# Streamlit serves dashboard/static/ at /app/static/ (server.enableStaticServing). Origin-relative,
# so it works on any host and port; behind server.baseUrlPath pass asset_base="/<base>/app/static/vendor".
VENDOR_BASE = "/app/static/vendor"
LEAFLET = "leaflet@1.9.4"
LEAFLET_DRAW = "leaflet-draw@1.0.4"
LEAFLET_MEASURE = "leaflet-measure@3.1.0"


def vendor_assets(asset_base: str = VENDOR_BASE) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """(name, url) pairs for each element kind, in folium's default_js/default_css shape.

    The names are folium's own, so an element that asks for "leaflet" twice still gets one tag.
    """
    b = asset_base.rstrip("/")
    return {
        "map": {
            "js": [("leaflet", f"{b}/{LEAFLET}/dist/leaflet.js")],
            "css": [("leaflet_css", f"{b}/{LEAFLET}/dist/leaflet.css")],
        },
        "draw": {
            "js": [("leaflet_draw_js", f"{b}/{LEAFLET_DRAW}/dist/leaflet.draw.js")],
            "css": [("leaflet_draw_css", f"{b}/{LEAFLET_DRAW}/dist/leaflet.draw.css")],
        },
        "measure": {
            "js": [("leaflet_measure_js", f"{b}/{LEAFLET_MEASURE}/dist/leaflet-measure.js")],
            "css": [("leaflet_measure_css", f"{b}/{LEAFLET_MEASURE}/dist/leaflet-measure.css")],
        },
    }


class RemoteAssetError(ValueError):
    """The map would make the browser fetch something from outside the app's origin."""



# --- offline guarantees ------------------------------------------------------------------------


def check_offline(m: folium.Map) -> None:
    """Raise RemoteAssetError if any element of the map would load JS, CSS or tiles off-origin.

    Walks the same elements streamlit-folium walks to build its js_links/css_links.
    """
    bad: list[str] = []
    for element in _walk(m):
        if isinstance(element, JSCSSMixin):
            for _, url in [*element.default_js, *element.default_css]:
                if not _same_origin_path(url):
                    bad.append(url)
        if isinstance(element, folium.TileLayer):
            try:
                check_tile_url(element.tiles)
            except ValueError:
                bad.append(str(element.tiles))
    if bad:
        raise RemoteAssetError(f"map would load from outside the app's origin: {sorted(set(bad))}")


_LOOPBACK_NAMES = {"localhost"}


def tile_settings(settings: Mapping[str, Any]) -> tuple[str | None, str]:
    """(tile_url, attribution) from site settings (`ingest.config.settings()`, watchfloor.toml)::

        [map]
        tile_url = "/app/static/tiles/{z}/{x}/{y}.png"   # dashboard/static/tiles/, served by Streamlit
        tile_attribution = "Basemap: national mapping agency, 2026"

    The URL is checked here (`check_tile_url`), so a bad setting fails at start, with the reason.
    """
    section = settings.get("map") or {}
    url = section.get("tile_url") or None
    attribution = str(section.get("tile_attribution") or "Local tiles")
    return (check_tile_url(url) if url else None), attribution


def check_tile_url(url: str) -> str:
    """Accept a raster tile URL template only if it stays on the app's origin or loopback.

    Allowed: an origin-relative path ("/app/static/tiles/{z}/{x}/{y}.png", served by Streamlit
    from dashboard/static/tiles/), or http(s) to localhost / 127.0.0.0/8 / ::1. Anything else is
    refused, including LAN tile servers: put those behind the app's origin (reverse proxy), so
    the no-external-request guarantee stays checkable. Note loopback means the *browser's*
    machine; for a wall screen on another host use the relative form.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("tile URL must be a non-empty string")
    url = url.strip()
    if not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise ValueError(f"tile URL must contain {{z}}, {{x}} and {{y}}: {url!r}")
    if "{s}" in url:
        raise ValueError(f"tile URL must not use {{s}} subdomains: {url!r}")
    if _same_origin_path(url):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        host = parts.hostname
        if host in _LOOPBACK_NAMES:
            return url
        try:
            if ipaddress.ip_address(host).is_loopback:
                return url
        except ValueError:
            pass
    raise ValueError(f"tile URL is not local (app origin or loopback only): {url!r}")


def _same_origin_path(url: str) -> bool:
    """'/path...' with no scheme or host: resolves against the app's own origin."""
    parts = urlsplit(url)
    return (not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
            and "\\" not in url)


def _walk(element: Any):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def _use_assets(element: JSCSSMixin, assets: Mapping[str, list[tuple[str, str]]]) -> None:
    # Instance attributes, never the class lists: folium's add_js_link mutates those in place.
    element.default_js = list(assets["js"])
    element.default_css = list(assets["css"])
