"""Open ZIP archives from untrusted sources (KMZ, zipped shapefiles and the like) safely.

A ZIP's central directory is written by whoever made the file, so every
number and name in it is a claim, not a fact. This module checks the claims
before anything is written and then checks the facts while writing:

- entry count, total uncompressed size and per-entry compression ratio are
  capped (a "zip bomb" is a few KiB that claims, or turns out, to be GiB);
- uncompressed bytes are counted while they are written, so an entry that
  lies about its size is stopped at the cap rather than trusted;
- member names that are absolute (``/abs/x``), climb out (``../../x``),
  carry a drive letter (``C:x``) or a NUL, and members that are symlinks,
  are refused as "zip slip" (writing outside the staging folder);
- a directory entry that carries a payload is refused (a classic way to hide
  data from tools that skip directories);
- nested archives are never opened: an inner .zip/.kmz is just a file.

Nothing is written under a member's own name: each extracted file gets a
generated name (``00000.kml``: position and a sanitised suffix) in a staging
folder the caller owns, so no name in the archive can choose where bytes go.
Refusals raise HostileInputError naming the archive and the rule broken.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.adapters.common import check_size
from ingest.errors import HostileInputError, UnreadableInputError

# Caps. A KMZ is a KML and a few icons; a zipped shapefile a handful of
# members. 1,000 entries and 512 MiB (the adapters' in-memory limit) leave a
# wide margin for honest archives while refusing the "thousands of entries"
# and "GiB from KiB" shapes.
MAX_ENTRIES = 1000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# Deflate tops out near 1032:1; text such as KML reaches 20-50:1 in practice.
# A higher ratio is only believed for small members (below RATIO_FLOOR_BYTES,
# where it cannot hurt): a 1 KiB member of zeros compresses 100:1 honestly.
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")


@dataclass(frozen=True)
class Extracted:
    """One extracted member: its name in the archive, and where it was written."""

    name: str  # normalised member name (forward slashes), for picking e.g. doc.kml
    path: Path  # generated file name inside the staging folder
    size: int


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member is refused as zip slip or a disguised payload, or None."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if "\x00" in raw:
        return f"member name {raw!r} contains a NUL byte"
    if name.startswith("/"):
        return f"member {raw!r} has an absolute path (zip slip)"
    if _DRIVE.match(name):
        return f"member {raw!r} has a drive letter (zip slip)"
    if ".." in PurePosixPath(name).parts:
        return f"member {raw!r} climbs out of the archive with '..' (zip slip)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"member {raw!r} is a symbolic link; links are refused (zip slip)"
    # An empty deflate stream is 2 bytes; anything more in a directory entry is hidden data.
    if info.is_dir() and (info.file_size or info.compress_size > 16):
        return f"directory entry {raw!r} carries {info.file_size} bytes of payload"
    return None


def check_archive(
    zf: zipfile.ZipFile,
    name: object,
    *,
    max_entries: int = MAX_ENTRIES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> None:
    """Refuse an archive whose central directory breaks any rule (see module docstring).

    Only the archive's claims are checked here; `extract` enforces the sizes
    again on the bytes actually produced.
    """
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise HostileInputError(
            name, f"archive has {len(infos)} entries; the limit is {max_entries} (zip bomb?)"
        )
    total = 0
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise HostileInputError(name, problem)
        if info.flag_bits & 0x1:
            raise UnreadableInputError(name, f"member {info.filename!r} is encrypted")
        total += info.file_size
        if total > max_total_bytes:
            raise HostileInputError(
                name,
                f"archive expands to more than {max_total_bytes} bytes (zip bomb): "
                f"the limit is {max_total_bytes / 2**20:.0f} MiB",
            )
        if info.file_size > RATIO_FLOOR_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > max_ratio:
                raise HostileInputError(
                    name,
                    f"member {info.filename!r} has compression ratio {ratio:.0f}:1; the limit "
                    f"is {max_ratio:.0f}:1 (zip bomb)",
                )


def open_archive(path: Path) -> zipfile.ZipFile:
    """A ZipFile for `path`, or UnreadableInputError if it is not a readable ZIP."""
    check_size(path)
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UnreadableInputError(path, f"not a ZIP archive ({exc})") from None
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot open: {exc.strerror or exc}") from None


def _suffix(member: str) -> str:
    """A harmless lower-case suffix taken from the member name ('' if none fits)."""
    suffix = PurePosixPath(member).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


def extract(
    path: Path,
    staging: Path,
    *,
    want: Callable[[str], bool] | None = None,
    max_entries: int = MAX_ENTRIES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> list[Extracted]:
    """Extract the files of ZIP archive `path` into the existing folder `staging`.

    `want(name)` picks the members to write (all files by default); the whole
    archive is checked either way, so a hostile member is refused even if it
    would not have been extracted. Files are written as ``NNNNN<suffix>``
    (never under their own names). Raises HostileInputError for a zip bomb or
    zip slip, UnreadableInputError for a damaged or encrypted archive.
    """
    path = Path(path)
    staging = Path(staging)
    out: list[Extracted] = []
    with open_archive(path) as zf:
        check_archive(
            zf, path, max_entries=max_entries, max_total_bytes=max_total_bytes, max_ratio=max_ratio
        )
        written = 0
        try:
            for n, info in enumerate(zf.infolist()):
                if info.is_dir():
                    continue
                name = info.filename.replace("\\", "/")
                if want is not None and not want(name):
                    continue
                target = staging / f"{n:05d}{_suffix(name)}"
                size = 0
                with zf.open(info) as src, open(target, "xb") as dst:
                    out.append(Extracted(name, target, 0))
                    while chunk := src.read(_CHUNK):
                        size += len(chunk)
                        written += len(chunk)
                        if size > info.file_size or written > max_total_bytes:
                            raise HostileInputError(
                                path,
                                f"member {info.filename!r} expands past its declared size or "
                                f"the {max_total_bytes / 2**20:.0f} MiB limit (zip bomb)",
                            )
                        if (
                            size > RATIO_FLOOR_BYTES
                            and size / max(info.compress_size, 1) > max_ratio
                        ):
                            raise HostileInputError(
                                path,
                                f"member {info.filename!r} expands beyond {max_ratio:.0f}:1 "
                                "(zip bomb)",
                            )
                        dst.write(chunk)
                out[-1] = Extracted(name, target, size)
        except BaseException as exc:
            # Nothing half-done is left behind: every file this call wrote goes.
            for m in out:
                m.path.unlink(missing_ok=True)
            if isinstance(exc, (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError)):
                raise UnreadableInputError(path, f"archive member is damaged ({exc})") from None
            if isinstance(exc, FileExistsError):
                raise UnreadableInputError(
                    path, f"staging folder {staging} is not empty ({exc.filename})"
                ) from None
            raise
    return out


@contextmanager
def staging_dir(prefix: str = "watchfloor-zip-") -> Iterator[Path]:
    """A fresh private temporary folder, removed with everything in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_member(
    path: Path,
    pick: Callable[[list[str]], str | None],
    *,
    max_bytes: int = MAX_TOTAL_BYTES,
) -> tuple[str, bytes] | None:
    """(name, bytes) of the one member `pick` chooses from the file names, or None.

    The whole archive is checked first (as in `extract`), then only the chosen
    member is extracted into a private staging folder and read back, so the
    same size accounting applies. Used for KMZ, where only the main KML is needed.
    """
    with open_archive(path) as zf:
        check_archive(zf, path, max_total_bytes=max_bytes)
        names = [i.filename.replace("\\", "/") for i in zf.infolist() if not i.is_dir()]
    chosen = pick(names)
    if chosen is None:
        return None
    with staging_dir() as staging:
        members = extract(path, staging, want=lambda n: n == chosen, max_total_bytes=max_bytes)
        # Two members may share a name; the first one, as in `pick`'s list, wins.
        return (chosen, members[0].path.read_bytes()) if members else None
