"""Safe ZIP extraction against real crafted archives (ingest/adapters/ziputil.py)."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ingest.adapters import ziputil
from ingest.errors import HostileInputError, UnreadableInputError
from tests.ingest.adapters.conftest import make_zip

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_safe_extract_writes_generated_names_only_into_staging(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "ok.kmz",
        [("doc.kml", b"<kml/>"), ("files/Icon One.PNG", b"png"), ("files/", b"")],
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    before = files_under(tmp_path)
    out = ziputil.extract(archive, staging)
    assert [(m.name, m.path.name, m.size) for m in out] == [
        ("doc.kml", "00000.kml", 6),
        ("files/Icon One.PNG", "00001.png", 3),
    ]
    assert out[0].path.read_bytes() == b"<kml/>"
    assert files_under(tmp_path) - before == {staging / "00000.kml", staging / "00001.png"}


@pytest.mark.parametrize(
    "member,why",
    [
        ("../../x", "climbs out"),
        ("a/../../x", "climbs out"),
        ("/abs/x", "absolute path"),
        ("C:/x", "drive letter"),
        ("..\\..\\x", "climbs out"),
    ],
)
def test_zip_slip_members_are_refused_and_nothing_is_written(
    tmp_path: Path, member: str, why: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    archive = make_zip(tmp_path / "slip.zip", [("doc.kml", b"<kml/>"), (member, b"pwned")])
    staging = work / "staging"
    staging.mkdir()
    before = files_under(tmp_path)
    with pytest.raises(HostileInputError, match=why) as err:
        ziputil.extract(archive, staging)
    assert "slip.zip" in str(err.value)
    assert files_under(tmp_path) == before  # not even doc.kml: the archive is refused whole
    assert not (tmp_path / "x").exists() and not Path("/abs/x").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("link.kml")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(tmp_path / "link.zip", [(info, b"/etc/passwd")])
    with pytest.raises(HostileInputError, match="symbolic link"):
        ziputil.extract(archive, tmp_path)


def test_directory_entry_with_payload_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "dir.zip", [("hidden/", b"secret payload")])
    with pytest.raises(HostileInputError, match="directory entry"):
        ziputil.extract(archive, tmp_path)


def test_zip_bomb_by_ratio_is_refused_before_extraction(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "bomb.kmz", [("doc.kml", b"<kml>" + b" " * (20 * 2**20) + b"</kml>")]
    )
    assert archive.stat().st_size < 100_000  # 20 MiB in a few tens of KiB
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(HostileInputError, match="zip bomb"):
        ziputil.extract(archive, staging)
    assert not any(staging.iterdir())


def test_zip_bomb_by_entry_count_and_total_size(tmp_path: Path) -> None:
    many = make_zip(
        tmp_path / "many.zip", [(f"f{i}.txt", b"x") for i in range(ziputil.MAX_ENTRIES + 1)]
    )
    with pytest.raises(HostileInputError, match="entries"):
        ziputil.extract(many, tmp_path)
    rng = np.random.default_rng(1)
    big = make_zip(
        tmp_path / "big.zip", [("a.bin", rng.bytes(600_000)), ("b.bin", rng.bytes(600_000))]
    )
    with pytest.raises(HostileInputError, match="expands to more than"):
        ziputil.extract(big, tmp_path, max_total_bytes=1_000_000)


def test_member_that_lies_about_its_size_is_stopped(tmp_path: Path) -> None:
    """The headers say 100 bytes; the data inflates to 2 MiB.

    zipfile stops at the declared size and then fails the CRC check; extract's own
    byte count (for a member that would run on) backs that up. Either way the
    archive is refused and the partial file removed.
    """
    archive = make_zip(tmp_path / "liar.zip", [("doc.kml", b"A" * (2 * 2**20))])
    raw = bytearray(archive.read_bytes())
    # Patch the uncompressed size in the local header (offset 22) and the
    # central directory entry (offset 24 after its signature).
    struct.pack_into("<I", raw, 22, 100)
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, 100)
    archive.write_bytes(bytes(raw))
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(UnreadableInputError) as err:  # HostileInputError is a subclass
        ziputil.extract(archive, staging)
    assert "liar.zip" in str(err.value)
    assert not any(staging.iterdir())  # the partial file is removed


def test_nested_archives_are_not_opened(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", [("doc.kml", b"<kml>" + b" " * 2**20 + b"</kml>")])
    outer = make_zip(tmp_path / "outer.zip", [("inner.zip", inner.read_bytes())])
    staging = tmp_path / "s"
    staging.mkdir()
    (m,) = ziputil.extract(outer, staging)
    assert m.path.suffix == ".zip" and m.size == inner.stat().st_size


def test_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(UnreadableInputError, match="not a ZIP"):
        ziputil.extract(p, tmp_path)
