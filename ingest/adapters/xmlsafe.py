"""Parse untrusted XML (CoT, GPX, KML, GeoRSS) without entity attacks.

The standard library's parsers expand internal entities (a "billion laughs"
document of a few hundred bytes becomes gigabytes) and some resolve external
ones (`<!ENTITY x SYSTEM "file:///etc/hostname">` reads local files). None of
the formats we read needs a DTD at all, so any DOCTYPE is refused outright:
that stops both attacks before a single entity is declared, and the error says
which file was refused and why, instead of a memory blow-up or a leaked file.

Large files that only need streaming (a CoT capture of a million events) can be
read with lxml's iterparse (`stream_elements`), several times faster. It is used
only for documents whose prolog, checked here before lxml sees a byte, holds no
DOCTYPE and declares no encoding but UTF-8; lxml is told not to resolve entities,
load a DTD or touch the network all the same, and a document it reports a DTD
for is refused.
Anything else returns None, and the caller uses `parse_bytes`, which refuses or
reads it exactly as before.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from lxml import etree

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


# lxml's iterparse resolved entities whatever it was told before 6.1.0.
LXML_STREAMING = etree.LXML_VERSION >= (6, 1)
# What may come before the root element, DOCTYPE aside: XML declaration, comments,
# processing instructions, white space.
_PROLOG = re.compile(rb"(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_NAME_START = re.compile(rb"<[A-Za-z_:\x80-\xff]")


def streamable(data: bytes) -> bool:
    """True if `data` may go to lxml: UTF-8 (or ASCII), no DOCTYPE before the root element.

    A DOCTYPE can only stand in the prolog; checking it here, on the bytes, means
    no parser ever reads a DTD from a file we stream.
    """
    if not LXML_STREAMING:
        return False
    m = _ENCODING.match(data)
    if m and m.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return False
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = _PROLOG.match(data, start).end()
    return _NAME_START.match(data, end) is not None


class StreamRefused(Exception):
    """lxml would not read the whole document cleanly: read it with `parse_bytes` instead."""


class ElementStream:
    """(event, element) for each element called `tag` ("{*}event": in any namespace
    or none) of `data`, as its end tag is read; after the iteration, `root` is the
    document's root.

    Only for `streamable` data (checked again here). The caller may delete what it
    has handled. Iterating raises StreamRefused on any error or warning of the
    parser (well-formedness, namespaces, limits), so that every such document gets
    the verdict of `parse_bytes`, and HostileInputError if the document turns out
    to have a DTD after all. Comments and processing instructions are dropped, as
    ElementTree drops them.
    """

    def __init__(self, data: bytes, tag: str, *, name: object) -> None:
        if not streamable(data):
            raise StreamRefused
        self.data, self.tag, self.name = data, tag, name
        self.root: Any = None

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        context = etree.iterparse(
            io.BytesIO(self.data), events=("end",), tag=self.tag, resolve_entities=False,
            no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            remove_comments=True, remove_pis=True,
        )
        try:
            yield from context
        except etree.XMLSyntaxError:
            raise StreamRefused from None
        if len(context.error_log):
            raise StreamRefused
        self.root = context.root
        docinfo = self.root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise HostileInputError(self.name, _hostile_reason(DTDForbidden(None, None, None)))
