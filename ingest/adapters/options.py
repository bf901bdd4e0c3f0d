"""Reader options are honoured or refused, never silently ignored.

Every reader takes keyword options (`columns`, `defaults`, `table`, `kind`, `quicklook`...) and
most also swallow the rest with `**_`, so one command line can call any of them. That made an
option a reader does not know (`--column` for GeoJSON, `--default` for a GeoTIFF) vanish
without a word. Here each call is checked against the reader's own signature once:

- an option the reader declares goes to the reader;
- `columns` goes to a reader that names its mapping `properties` (GeoJSON);
- `defaults` for fields of the layer's schema is applied here, after any reader, to the records
  that lack the field: so `--default acquired_at=...` works for a GeoTIFF without a date, as
  for a CSV without the column (a reader that declares `defaults` gets them too, for fields of
  its own such as a ULog's `start_time`);
- anything else is refused with the options this format does take.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from ingest.adapters.base import ReadResult
from ingest.errors import UnsupportedOptionError
from ingest.schema import spec

# How people give each option on the command line, for messages.
FLAGS = {"columns": "--column", "defaults": "--default", "table": "--table", "kind": "--kind",
         "quicklook": "--no-quicklook", "layer": "--layer"}
_ALIASES = {"columns": "properties"}
_NOT_OPTIONS = {"path", "source", "max_bytes"}


def declared(reader: Callable[..., ReadResult]) -> set[str]:
    """The keyword options `reader` itself declares (pre-bound and catch-all ones excluded)."""
    bound: set[str] = set()
    while isinstance(reader, functools.partial):
        bound |= set(reader.keywords)
        reader = reader.func
    target = getattr(reader, "target", None)  # a lazily imported reader: look at the real one
    if target is not None:
        reader = getattr(importlib.import_module(target[0]), target[1])
    params = inspect.signature(reader).parameters.values()
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - _NOT_OPTIONS - bound


def call(fmt: str, reader: Callable[..., ReadResult], layer: str | None, path: Path, *, source: str,
         **options: Any) -> ReadResult:
    """`reader(path, source=..., **options)` with every option honoured, or a refusal."""
    options = {k: v for k, v in options.items() if v is not None}
    takes = declared(reader)
    if layer is not None and "layer" in takes:
        options["layer"] = layer
    defaults = dict(options.pop("defaults", None) or {})
    passed: dict[str, Any] = {}
    for name, value in options.items():
        if name in takes:
            passed[name] = value
        elif _ALIASES.get(name) in takes:
            passed[_ALIASES[name]] = value
        else:
            usable = sorted(FLAGS.get(t, t) for t in (takes | {"defaults"}) if t in FLAGS)
            raise UnsupportedOptionError(fmt, FLAGS.get(name, name),
                                         f"this format takes {', '.join(usable) or 'no options'}")
    layer_name = layer or _fixed_layer(fmt)
    own = "defaults" in takes
    if defaults and layer_name is not None:
        fields = set(spec(layer_name).column_names) - {"geometry", "ingested_at", "geometry_fix"}
        foreign = sorted(set(defaults) - fields)
        if foreign and not own:
            raise UnsupportedOptionError(fmt, f"--default {foreign[0]}=...",
                                         f"{foreign[0]!r} is not a field of {layer_name}; "
                                         f"expected one of {', '.join(sorted(fields))}")
    if own and defaults:
        passed["defaults"] = defaults
    result = reader(path, source=source, **passed)
    return with_defaults(result, defaults)


def with_defaults(result: ReadResult, defaults: Mapping[str, Any]) -> ReadResult:
    """Records lacking a field of the layer get the default; a value present is never replaced."""
    fields = set(spec(result.layer).column_names) - {"geometry"}
    usable = {k: v for k, v in defaults.items() if k in fields}
    if not usable or result.frame is None or result.frame.empty:
        return result
    frame = result.frame.copy()
    for name, value in usable.items():
        if name not in frame:
            frame[name] = value
            continue
        column = frame[name]
        blank = column.isna()
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            blank |= column.astype("string").str.strip().eq("").fillna(False)
        if blank.any():
            frame[name] = column.astype(object).where(~blank, value)
    return replace(result, frame=frame)


def _fixed_layer(fmt: str) -> str | None:
    from ingest.adapters import READERS

    return READERS.get(fmt, (None, None))[0]
