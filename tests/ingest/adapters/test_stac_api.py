"""STAC API search against a real local HTTP server (ingest/adapters/stac_api.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import pytest

from ingest.adapters.stac_api import check_url, search_stac_api
from ingest.errors import ConfigError, HostileInputError, UnreadableInputError
from tests.ingest.adapters.conftest import accounted, by_id

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def stac_item(item_id: str, cloud: float | None, lon: float) -> dict[str, Any]:
    props: dict[str, Any] = {
        "datetime": "2026-11-20T09:40:19Z",
        "platform": "sentinel-2b",
        "constellation": "sentinel-2",
        "gsd": 10,
        "proj:code": "EPSG:32634",
    }
    if cloud is not None:
        props["eo:cloud_cover"] = cloud
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": "sentinel-2-l2a",
        "bbox": [lon, 42.0, lon + 0.5, 42.5],
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[lon, 42.0], [lon + 0.5, 42.0], [lon + 0.5, 42.5], [lon, 42.5], [lon, 42.0]]
            ],
        },
        "properties": props,
        "links": [],
        "assets": {
            "thumbnail": {"href": f"https://example.invalid/{item_id}.jpg", "roles": ["thumbnail"]}
        },
    }


class StacServer:
    """A STAC API on 127.0.0.1: landing page, conformance, /search in two pages."""

    def __init__(self, conforms: list[str], page2_next: str | None = None) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.conforms = conforms
        self.page2_next = page2_next
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                server.requests.append(("GET", url.path, parse_qs(url.query)))
                if url.path == "/":
                    self._send(200, server.landing())
                elif url.path == "/conformance":
                    self._send(200, {"conformsTo": server.conforms})
                elif url.path == "/search":
                    q = parse_qs(url.query)
                    self._send(200, server.page(q.get("token", [None])[0], q))
                elif url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.end_headers()
                else:
                    self._send(500, {"code": "boom", "description": "server error"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                server.requests.append(("POST", self.path, body))
                if self.path == "/search":
                    self._send(200, server.page(body.get("token"), body))
                else:
                    self._send(404, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def landing(self) -> dict[str, Any]:
        return {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "test-api",
            "description": "test",
            "conformsTo": self.conforms,
            "links": [
                {"rel": "self", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "root", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "conformance", "href": f"{self.base}/conformance"},
                {
                    "rel": "search",
                    "href": f"{self.base}/search",
                    "type": "application/geo+json",
                    "method": "GET",
                },
                {
                    "rel": "search",
                    "href": f"{self.base}/search",
                    "type": "application/geo+json",
                    "method": "POST",
                },
            ],
        }

    def page(self, token: str | None, params: dict) -> dict[str, Any]:
        if token is None:
            feats = [
                stac_item("S2-A", 5.0, 20.5),
                stac_item("S2-CLOUDY", 80.0, 21.0),
                {"type": "Feature", "id": "BROKEN", "stac_version": "1.0.0", "properties": {}},
            ]
            nxt = {
                "rel": "next",
                "href": f"{self.base}/search",
                "method": "POST",
                "body": {"token": "page2"},
                "merge": True,
            }
            if "method" in params or isinstance(params.get("limit"), list):  # a GET search
                nxt = {"rel": "next", "href": f"{self.base}/search?token=page2", "method": "GET"}
            links = [nxt]
        else:
            feats = [stac_item("S1-RADAR", None, 21.5)]
            links = [{"rel": "next", "href": self.page2_next}] if self.page2_next else []
        return {"type": "FeatureCollection", "features": feats, "links": links}

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


CORE = "https://api.stacspec.org/v1.0.0/core"


ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"


QUERY = "https://api.stacspec.org/v1.0.0/item-search#query"


FILTER = "https://api.stacspec.org/v1.0.0/item-search#filter"


def test_stac_api_search_pages_and_filters() -> None:
    with StacServer([CORE, ITEM_SEARCH, QUERY]) as srv:
        res = search_stac_api(
            srv.base + "/",
            source="stac-api",
            bbox=(20.0, 41.8, 21.8, 43.3),
            datetime="2026-11-01T00:00:00Z/2026-11-21T00:00:00Z",
            collections=["sentinel-2-l2a"],
            max_cloud=20,
            page_size=3,
            default_marking="UNCLASSIFIED",
        )
    assert res.layer == "imagery" and res.default_marking == "UNCLASSIFIED"
    accounted(res)
    # S2-CLOUDY (80 %) was not asked for; BROKEN is rejected; S1-RADAR has no cover: kept.
    assert sorted(res.frame.source_id) == ["S1-RADAR", "S2-A"]
    assert (len(res.rejected), res.records_read) == (1, 3)
    assert res.rejected.iloc[0].source_id == "BROKEN" and "pystac" in res.rejected.iloc[0].detail
    a = by_id(res.frame)["S2-A"]
    assert (a.cloud_cover, a.gsd, a.native_crs, a.collection) == (
        5.0,
        10.0,
        "EPSG:32634",
        "sentinel-2-l2a",
    )
    assert a.geometry.exterior.coords[1] == (21.0, 42.0)
    searches = [r for r in srv.requests if r[1] == "/search"]
    assert len(searches) == 2  # page 1, then the `next` link
    first = searches[0][2]
    assert searches[0][0] == "POST"
    assert first["bbox"] == [20.0, 41.8, 21.8, 43.3] and first["collections"] == ["sentinel-2-l2a"]
    assert first["datetime"] == "2026-11-01T00:00:00Z/2026-11-21T00:00:00Z" and first["limit"] == 3
    assert first["query"] == {"eo:cloud_cover": {"lte": 20}}
    assert searches[1][2]["token"] == "page2" and searches[1][2]["bbox"] == first["bbox"]  # merged


def test_stac_api_filter_extension_get_and_caps() -> None:
    with StacServer([CORE, ITEM_SEARCH, FILTER]) as srv:
        res = search_stac_api(srv.base, source="s", max_cloud=50, method="GET", max_pages=1)
        assert sorted(res.frame.source_id) == ["S2-A"]  # one page only
        (search,) = [r for r in srv.requests if r[1] == "/search"]
        assert search[0] == "GET" and search[2]["filter"] == ['"eo:cloud_cover" <= 50']
        assert search[2]["filter-lang"] == ["cql2-text"]
        srv.requests.clear()
        res = search_stac_api(srv.base, source="s", max_items=1)
        assert list(res.frame.source_id) == ["S2-A"] and res.records_read == 1
        assert len([r for r in srv.requests if r[1] == "/search"]) == 1


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://x",
        "/etc/passwd",
        "127.0.0.1:8000",
        "http:///nohost",
    ],
)
def test_stac_api_refuses_other_schemes(url: str) -> None:
    with pytest.raises(HostileInputError):
        search_stac_api(url, source="s")
    with pytest.raises(HostileInputError):
        check_url(url)


@pytest.mark.parametrize(
    "next_href", ["/etc/passwd", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/"]
)
def test_stac_api_refuses_where_the_catalogue_points(next_href: str) -> None:
    with (
        StacServer([CORE, ITEM_SEARCH], page2_next=next_href) as srv,
        pytest.raises(HostileInputError),
    ):
        search_stac_api(srv.base, source="s")
    assert check_url("HTTP://127.0.0.1/x") == "HTTP://127.0.0.1/x"  # scheme is case-insensitive
    with pytest.raises(HostileInputError, match="not the catalogue's host"):
        check_url("http://10.0.0.1/x", hosts={"127.0.0.1"})


def test_stac_api_errors_and_redirects() -> None:
    with StacServer([CORE, ITEM_SEARCH]) as srv:
        with pytest.raises(UnreadableInputError, match="HTTP 500"):
            search_stac_api(srv.base + "/missing", source="s")
        with pytest.raises(HostileInputError, match="169.254.169.254"):
            search_stac_api(srv.base + "/redirect", source="s")
        with pytest.raises(HostileInputError, match="larger than"):
            search_stac_api(srv.base, source="s", max_response_bytes=100)
        with pytest.raises(ConfigError):
            search_stac_api(srv.base, source="s", max_cloud=120)
    with pytest.raises(UnreadableInputError):  # nothing listens there any more
        search_stac_api(srv.base, source="s", timeout=2)
