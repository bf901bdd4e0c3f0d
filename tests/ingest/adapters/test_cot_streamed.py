"""CoT files read by streaming with lxml: the same rows, rejections and refusals as the
ElementTree path, and nothing of a DTD ever parsed.

The reference for "the same" is the ElementTree path itself (`_find_events` +
`_event_row` over `xmlsafe.parse_bytes`), which read every CoT file before the
streamed path existed; the hand-checked expectations of that path are in
tests/ingest/adapters/test_cot.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest import reasons
from ingest.adapters import cot, xmlsafe
from ingest.adapters.cot import read_cot
from ingest.errors import HostileInputError, UnreadableInputError

DATA = Path(__file__).resolve().parents[2] / "data"
SRC = "test-src"
EVENT = ('<event version="2.0" uid="{uid}" type="a-f-A-M-F-Q" time="{t}" stale="2024-05-04T10:05:00Z">'
         '{body}</event>')
POINT = '<point lat="{lat}" lon="{lon}" hae="{hae}"/>'


def element_tree_read(path: Path) -> cot.ReadResult:
    """What read_cot returned for a single-document file before it streamed."""
    root = xmlsafe.parse_bytes(path.read_bytes(), name=path)
    return cot.result_from_parsed(cot._event_row(ev, SRC) for ev in cot._find_events(root))


def assert_same(path: Path) -> cot.ReadResult:
    streamed, reference = read_cot(path, source=SRC), element_tree_read(path)
    pd.testing.assert_frame_equal(streamed.frame, reference.frame, check_exact=True)
    pd.testing.assert_frame_equal(streamed.rejected.drop(columns="quarantined_at"),
                                  reference.rejected.drop(columns="quarantined_at"))
    assert streamed.records_read == reference.records_read
    return streamed


@pytest.mark.parametrize("name", ["drone_events.xml", "pycot_tak_example.xml", "takproto_wintak_event.xml"])
def test_sample_files_are_streamed_and_read_as_before(name: str) -> None:
    data = (DATA / "cot" / name).read_bytes()
    assert xmlsafe.streamable(data)
    assert_same(DATA / "cot" / name)


def test_odd_events_read_exactly_as_before(tmp_path: Path) -> None:
    """Blank and padded text, unknown heights, words for numbers, missing points, CDATA,
    comments, namespaces, events in wrappers and inside events: row for row as before."""
    p = tmp_path / "odd.xml"
    p.write_text('''<?xml version="1.0" encoding="UTF-8"?>
<!-- a capture -->
<events>
  <event uid=" A1 " time=" 2024-05-04T10:00:00Z " type="" stale="">
    <point lat=" 42.5 " lon="21.0" hae="9999999.0"/>
    <detail><track speed="fast" course=" 90 "/><contact callsign="  ALPHA  "/><marking>
      UNCLASSIFIED//REL TO
      USA<!-- c -->, GBR</marking></detail>
  </event><!-- between -->
  <event uid="A2" time="2024-05-04T10:00:01Z"><detail/><point lat="1e1" lon="-.5" hae=""/><point lat="9" lon="9"/></event>
  <event uid="A3"><point lat="forty" lon="1"/>tail</event>
  <event uid="A4" time="t"><detail><contact/></detail></event>
  <event uid="A5"><point lon="3"/></event>
  <event uid="A6" time="x"><point lat="nan" lon="inf" hae="1_000"/><detail><track speed="12" course="0x10"/><marking><![CDATA[SECRET & <x>]]></marking></detail></event>
  <wrap><event uid="W1"><point lat="1" lon="2"/><event uid="NESTED"><point lat="5" lon="5"/></event></event></wrap>
  <event uid="\u00dcn\u00ef" time="2024"><point lat="3" lon="4" hae="5"/><detail><contact callsign="\u00a0x\u00a0"/><marking>  </marking></detail></event>
  <e:event xmlns:e="urn:x" uid="NS1"><point lat="1" lon="1"/></e:event>
  <event uid="A7"><point lat="" lon="1"/></event>
</events>''', encoding="utf-8")
    res = assert_same(p)
    assert list(res.frame["track_id"]) == ["A1", "A2", "A6", "W1", "\u00dcn\u00ef", "NS1"]
    assert [r for r in res.rejected["reason"]] == [
        reasons.BAD_COORDINATE_TEXT, reasons.MALFORMED_RECORD, reasons.MALFORMED_RECORD, reasons.BAD_COORDINATE_TEXT]
    # Serialised as ElementTree writes it, with the text after the event, as before.
    assert res.rejected["raw"].iloc[0] == '<event uid="A3"><point lat="forty" lon="1" />tail</event>\n  '


def test_many_events_across_the_clearing_of_handled_events(tmp_path: Path) -> None:
    """More events than are kept in memory at once, with rejections and odd fields around
    the points where handled events are deleted from the tree."""
    body = []
    for i in range(3 * cot._CLEAR_EVERY + 7):
        lat = "x" if i % 997 == 0 else f"{42 + i / 1e5:.5f}"
        point = POINT.format(lat=lat, lon=21, hae="high" if i % 1500 == 0 else "9999999.0") if i % 1301 else ""
        detail = '<detail><marking> RESTRICTED </marking><track speed="1"/></detail>' if i % 3 else ""
        body.append(EVENT.format(uid=f"U{i % 7}", t=f"2024-05-04T10:00:{i % 60:02d}Z", body=point + detail))
    p = tmp_path / "many.xml"
    p.write_text("<events>\n" + "\n".join(body) + "\n</events>\n")
    res = assert_same(p)
    # 12,295 events: 13 with lat "x" (every 997th), 10 without a point (every 1301st),
    # event 0 in both: 22 rejected.
    assert res.records_read == 12_295 and len(res.rejected) == 22


@pytest.mark.parametrize("name", ["billion_laughs_cot.xml", "xxe_cot.xml"])
def test_hostile_files_are_refused_before_any_parser_reads_them(name: str) -> None:
    data = (DATA / "hostile" / name).read_bytes()
    assert not xmlsafe.streamable(data)
    with pytest.raises(xmlsafe.StreamRefused):
        xmlsafe.ElementStream(data, "{*}event", name=name)
    with pytest.raises(HostileInputError, match="DOCTYPE") as err:
        read_cot(DATA / "hostile" / name, source=SRC)
    assert name in str(err.value)


@pytest.mark.parametrize("prolog", [
    b'<!DOCTYPE events SYSTEM "http://127.0.0.1:9/events.dtd">',
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- note -->\n<!DOCTYPE events>',
    b'\xef\xbb\xbf<!DOCTYPE events [<!ENTITY a "b">]>',
    b'<?xml version="1.0"?><?pi x?>  \n\t<!DOCTYPE events PUBLIC "-//x//y" "file:///etc/hostname">',
])
def test_any_doctype_in_the_prolog_is_refused(tmp_path: Path, prolog: bytes) -> None:
    p = tmp_path / "dtd.xml"
    p.write_bytes(prolog + b'<events><event uid="D" time="t"><point lat="1" lon="2"/></event></events>')
    assert not xmlsafe.streamable(p.read_bytes())
    with pytest.raises(HostileInputError, match="DOCTYPE"):
        read_cot(p, source=SRC)


def test_an_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    p = tmp_path / "xxe.xml"
    p.write_text(f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{secret}">]>'
                 '<events><event uid="&x;" time="t"><point lat="1" lon="2"/></event></events>')
    with pytest.raises(HostileInputError) as err:
        read_cot(p, source=SRC)
    assert "TOP-SECRET-CONTENT" not in str(err.value)


def test_doctype_text_inside_a_comment_is_not_a_doctype(tmp_path: Path) -> None:
    p = tmp_path / "comment.xml"
    p.write_text('<!-- <!DOCTYPE x> --><events><event uid="C" time="t"><point lat="1" lon="2"/></event></events>')
    assert xmlsafe.streamable(p.read_bytes())
    assert list(assert_same(p).frame["track_id"]) == ["C"]


def test_documents_lxml_does_not_stream_are_read_as_before(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.xml"
    latin.write_bytes('<?xml version="1.0" encoding="ISO-8859-1"?><events><event uid="Zo\u00eb" time="t">'
                      '<point lat="1" lon="2"/></event></events>'.encode("latin-1"))
    assert not xmlsafe.streamable(latin.read_bytes())
    assert list(read_cot(latin, source=SRC).frame["track_id"]) == ["Zo\u00eb"]
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes('<events><event uid="W" time="t"><point lat="1" lon="2"/></event></events>'.encode("utf-16"))
    assert not xmlsafe.streamable(utf16.read_bytes())
    assert list(read_cot(utf16, source=SRC).frame["track_id"]) == ["W"]


@pytest.mark.parametrize("text, message", [
    ('<events><x:event uid="P"><point lat="1" lon="2"/></x:event></events>', "not well-formed XML (unbound prefix"),
    ('<events><event uid="&foo;"><point lat="1" lon="2"/></event></events>', "not well-formed XML (undefined entity"),
    ('<events><event uid="T"><point lat="1" lon="2"/></event>', "not well-formed XML (no element found"),
    ("<gpx><trk/></gpx>", "expected Cursor-on-Target <event> elements"),
])
def test_unreadable_documents_get_the_same_verdict(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(UnreadableInputError, match=message.replace("(", r"\(")):
        read_cot(p, source=SRC)


def test_concatenated_events_still_split_as_a_stream(tmp_path: Path) -> None:
    p = tmp_path / "capture.cot"
    p.write_text(EVENT.format(uid="C1", t="2024", body=POINT.format(lat=1, lon=2, hae=3)) + "\n"
                 + EVENT.format(uid="C2", t="2024", body=POINT.format(lat="bad", lon=2, hae=3)))
    res = read_cot(p, source=SRC)
    assert list(res.frame["track_id"]) == ["C1"]
    assert list(res.rejected["reason"]) == [reasons.BAD_COORDINATE_TEXT]
