"""Guard every path before GDAL (pyogrio, rasterio) sees it: plain local files only.

GDAL treats a "file name" as a small language. `/vsicurl/http://...` fetches
a URL (server-side request forgery from an upload form), `/vsizip/...` and
`/vsitar/...` open archives without our zip-bomb checks, `MEM:::DATAPOINTER=`
reads raw process memory, `PG:`, `WMS:`, `NETCDF:` and friends select drivers
and connections, and a string starting with `<VRTDataset>` *is* a dataset.
Worse, a file named `scene.tif` whose content is a VRT is opened by the VRT
driver, which will happily read `/etc/passwd` (or a URL) as a raster source.

So, before any GDAL call, `guard` checks that:
- the text of the path has none of those forms (refused as HostileInputError);
- it names an existing regular file (or, where allowed, a folder) on disk;
- its first bytes are the magic of the format the caller expects (TIFF,
  GeoPackage/SQLite, OSM PBF, OSM XML), so the driver GDAL picks is the one
  we meant. An XML/VRT where a binary format was expected is hostile.
`gdal_env` then keeps GDAL from looking beside the file for sidecars (.aux.xml,
.ovr, .msk: a sidecar can be a VRT too) and from writing .aux.xml next to a
user's file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from ingest.errors import HostileInputError, UnreadableInputError

Expect = Literal["tiff", "gpkg", "osm-pbf", "osm-xml"]

# Any of these anywhere in the path text makes GDAL do something other than
# open a local file. Case-insensitive: GDAL matches several of them that way.
_FORBIDDEN = ("/vsi", "\\vsi", "://", "mem:::")
# "DRIVER:rest" connection strings (PG:, WMS:, NETCDF:, GTIFF_DIR:, HDF5:,
# SQLITE:, GPKG: ...). A Windows drive letter (one letter) is not one.
_DRIVER_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]+:")

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_path_text(text: str) -> None:
    """Refuse path text that GDAL would read as something other than a local file."""
    lowered = text.lower()
    for bad in _FORBIDDEN:
        if bad in lowered:
            raise HostileInputError(
                text,
                f"path contains {bad!r}: GDAL virtual file systems, URLs and memory "
                "datasets are refused; only plain local files can be read",
            )
    stripped = text.lstrip()
    if stripped.startswith("<"):
        raise HostileInputError(
            text[:80], "path text is inline XML (GDAL would read it as a VRT dataset); refused"
        )
    if _DRIVER_PREFIX.match(stripped):
        raise HostileInputError(
            text,
            f"path starts with a GDAL driver prefix ({stripped.split(':', 1)[0]}:); "
            "only plain local files can be read",
        )


def is_pbf(head: bytes) -> bool:
    """True if `head` starts like an OSM PBF file."""
    # An OSM PBF starts with a 4-byte big-endian BlobHeader length, then the
    # BlobHeader protobuf whose field 1 (type) is the string "OSMHeader".
    return len(head) >= 15 and head[4:6] == b"\x0a\x09" and head[6:15] == b"OSMHeader"


def _xml_root(head: bytes) -> str | None:
    """Local name of the first element in `head`, skipping the prolog; None if not XML."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    text = re.sub(r"^(?:<\?.*?\?>|<!--.*?-->|\s)+", "", text, flags=re.DOTALL)
    m = re.match(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)", text)
    return m.group(2) if m else None


def _looks_like_text_markup(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def check_magic(path: Path, expect: Expect) -> None:
    """Refuse `path` unless its first bytes are those of the `expect`ed format."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot read: {exc.strerror or exc}") from None
    ok = {
        "tiff": lambda: head[:4] in _TIFF_MAGIC,
        "gpkg": lambda: head.startswith(_SQLITE_MAGIC),
        "osm-pbf": lambda: is_pbf(head),
        "osm-xml": lambda: _xml_root(head) == "osm",
    }[expect]()
    if ok:
        return
    if expect != "osm-xml" and _looks_like_text_markup(head):
        root = _xml_root(head) or "?"
        raise HostileInputError(
            path,
            f"expected a binary {expect} file, found XML/text (root <{root}>); a VRT or other "
            "XML dataset disguised by its file name is refused",
        )
    if expect == "osm-xml" and _xml_root(head) not in (None, "osm"):
        raise HostileInputError(
            path, f"expected OSM XML (<osm> root), found <{_xml_root(head)}>; refused"
        )
    raise UnreadableInputError(path, f"not a {expect} file (its first bytes do not match)")


def guard(path: Path | str, expect: Expect | None = None, *, allow_dir: bool = False) -> Path:
    """The checked local `Path` for a user-chosen file (or folder, with allow_dir).

    Raises HostileInputError for GDAL path syntax or a disguised file,
    UnreadableInputError when the file is missing, not a regular file, or not
    the expected format.
    """
    text = str(path)
    check_path_text(text)
    p = Path(text)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UnreadableInputError(p, "no such file") from None
    except OSError as exc:
        raise UnreadableInputError(p, f"cannot stat: {exc.strerror or exc}") from None
    if allow_dir and p.is_dir():
        return p
    if not p.is_file():
        raise UnreadableInputError(p, "expected a regular file, found a directory or device")
    if st.st_size == 0:
        raise UnreadableInputError(p, "empty file")
    if expect is not None:
        check_magic(p, expect)
    return p


# GDAL settings for reading user files: no directory listing (so no sidecar
# .aux.xml/.ovr/.msk is found and opened), no PAM .aux.xml written beside the
# user's file, and no network.
GDAL_SAFE_OPTIONS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".none",
    "GDAL_HTTP_TIMEOUT": "1",
}


@contextmanager
def rasterio_env() -> Iterator[None]:
    """rasterio.Env with `GDAL_SAFE_OPTIONS`."""
    import rasterio

    with rasterio.Env(**GDAL_SAFE_OPTIONS):
        yield
