"""All-or-nothing file writing, shared by every export format.

An analyst who finds `incidents.gpkg` in a folder must be able to trust it is whole: a half-written
GeoPackage opens and silently shows fewer features. So every writer writes into a private
staging folder next to the destination (same filesystem, so the final rename is atomic), the
finished file is flushed to disk and renamed over the destination with `os.replace`, and on any
failure the staging folder and everything in it (GDAL side files such as `-journal`, shapefile
parts, half a zip) is deleted. A process killed outright leaves at most a hidden
`.watchfloor-export-*` folder, never a file under the destination's name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from layers.export.constants import STAGING_PREFIX


@contextmanager
def atomic_output(dest: Path, companions: Sequence[str] = ()) -> Iterator[Path]:
    """Yield a path (not yet existing) to write; on success it becomes `dest`, on error nothing does.

    The yielded path keeps `dest`'s name, so drivers that pick behaviour from the extension
    (GDAL) see the right one. The writer may also create scratch files beside it: they go with
    the staging folder. `companions` are names of files the writer must also put beside it (a
    CSV's provenance): they are moved into `dest`'s folder first, so `dest` never appears
    without them.
    """
    dest = Path(dest)
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"export folder {parent} does not exist")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
    try:
        tmp = staging / dest.name
        yield tmp
        for f in [*(staging / name for name in companions), tmp]:
            if not f.is_file():
                raise RuntimeError(f"the writer produced no file at {f}")
            _fsync_file(f)
        for name in companions:
            os.replace(staging / name, parent / name)
        os.replace(tmp, dest)
        _fsync_dir(parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def scratch_dir(near: Path) -> Iterator[Path]:
    """A private folder beside `near` for intermediate files, always removed."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=near.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows): the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
