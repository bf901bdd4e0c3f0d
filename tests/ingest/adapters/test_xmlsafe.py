"""The hardened XML parser (ingest/adapters/xmlsafe.py)."""

from __future__ import annotations

import pytest

from ingest.adapters.xmlsafe import parse_bytes
from ingest.errors import HostileInputError, UnreadableInputError


def test_xmlsafe_names_the_input() -> None:
    with pytest.raises(HostileInputError, match="feed-7"):
        parse_bytes(
            b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/hostname">]><a>&e;</a>', name="feed-7"
        )
    with pytest.raises(UnreadableInputError, match="line 1"):
        parse_bytes(b"<a><b></a>", name="feed-7")
