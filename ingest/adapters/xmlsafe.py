"""Parse untrusted XML (CoT, GPX, KML, GeoRSS) without entity attacks.

The standard library's parsers expand internal entities (a "billion laughs"
document of a few hundred bytes becomes gigabytes) and some resolve external
ones (`<!ENTITY x SYSTEM "file:///etc/hostname">` reads local files). None of
the formats we read needs a DTD at all, so any DOCTYPE is refused outright:
that stops both attacks before a single entity is declared, and the error says
which file was refused and why, instead of a memory blow-up or a leaked file.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from ingest.adapters.common import MAX_INPUT_BYTES, read_bytes
from ingest.errors import HostileInputError, UnreadableInputError


def _hostile_reason(exc: DefusedXmlException) -> str:
    if isinstance(exc, DTDForbidden):
        return (
            "XML has a DOCTYPE declaration, which is refused: it can declare entities "
            "(entity expansion, external file reads) and no supported format needs one"
        )
    if isinstance(exc, EntitiesForbidden):
        return f"XML declares entity {getattr(exc, 'name', '?')!r}; entity declarations are refused"
    if isinstance(exc, ExternalReferenceForbidden):
        return f"XML references an external resource ({getattr(exc, 'sysid', '?')}); refused"
    return f"XML uses a refused feature: {exc}"


def parse_bytes(data: bytes, *, name: object) -> Element:
    """Root element of `data`; `name` (a path or feed label) is used in errors.

    Raises HostileInputError for DTDs, entity declarations and external
    references; UnreadableInputError if `data` is not well-formed XML.
    """
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise HostileInputError(name, _hostile_reason(exc)) from None
    except ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        msg = str(exc).split(":")[0]
        raise UnreadableInputError(
            name, f"not well-formed XML ({msg} at line {line}, column {col})"
        ) from None


def parse_file(path: Path, *, max_bytes: int = MAX_INPUT_BYTES) -> Element:
    """Root element of the XML file at `path`, size-capped and entity-safe."""
    return parse_bytes(read_bytes(path, max_bytes), name=path)


def local_name(tag: object) -> str:
    """Tag without its namespace: GPX 1.0 and 1.1 (and KML 2.1/2.2) differ only there."""
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def scan_file(path: Path) -> str:
    """Stream through an XML file refusing DTDs and entities; return the root's local name.

    For files another parser (GDAL's expat) will read: the check costs one
    pass and no tree, so it suits extracts of hundreds of MiB.
    """
    root = ""
    try:
        for _event, el in DET.iterparse(str(path), events=("start",), forbid_dtd=True,
                                        forbid_entities=True, forbid_external=True):
            if not root:
                root = local_name(el.tag)
            el.clear()
    except DefusedXmlException as exc:
        raise HostileInputError(path, _hostile_reason(exc)) from None
    except ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise UnreadableInputError(
            path, f"not well-formed XML ({str(exc).split(':')[0]} at line {line}, column {col})"
        ) from None
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot read: {exc.strerror or exc}") from None
    return root
