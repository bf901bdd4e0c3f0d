"""Text of many findings at once, built in Arrow rather than one Python string per row.

Why: 100,000 proximity findings are 400,000 strings (key, subjects, message,
details), and one Python string operation per row each cost more than the
whole geodesic search. Text is made per feature (an incident's title, a
facility's label: tens of thousands), taken per finding by index and joined
in Arrow's compute kernels. Every function gives exactly the text the plain
Python expression named in its docstring gives; where Arrow could differ (an
unusual type, a tie in rounding) it hands that value to Python.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()  # what pandas' "string" dtype holds
# What Python's str.strip() removes (every character whose str.isspace() is true), spelled out for
# Arrow's utf8_trim; tests/layers/analysis/test_fast_paths.py checks it against Python's own.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_NEEDS_JSON_ESCAPE = r'["\\\x00-\x1f]'
_DIGITS = pa.array(list("0123456789"), type=pa.large_string())
_MAX_EXACT = 1e15  # below this, a float with <= 6 decimals has one shortest repr: its decimal digits


def strings(values: Any) -> pa.Array:
    """Arrow strings from str values (missing -> null). Raises pa.ArrowTypeError on a non-str value."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(TEXT)
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(values, pd.arrays.ArrowStringArray):
        return strings(pa.array(values))
    return pa.array(np.asarray(values, dtype=object), type=TEXT, from_pandas=True)


def column_strings(frame: pd.DataFrame, name: str) -> pa.Array | None:
    """The column as Arrow strings if it holds only str values (and missing ones), else None."""
    try:
        return strings(frame[name])
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return None


def join(*parts: str | pa.Array) -> pa.Array:
    """Row-wise concatenation, as ``a + b + ...`` over object arrays; a str part is the same in every row."""
    return pc.binary_join_element_wise(*[pa.scalar(p, TEXT) if isinstance(p, str) else p for p in parts],
                                       pa.scalar("", TEXT))


def constant(value: str, n: int) -> pa.Array:
    """The same text in n rows."""
    return take(pa.array([value], TEXT), np.zeros(n, dtype=np.int64))


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    return values.take(pa.array(np.asarray(index, dtype=np.int64)))


def blank(values: pa.Array) -> pa.Array:
    """Missing, or nothing left after Python's str.strip()."""
    return pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim(values, WHITESPACE), "")).fill_null(True)


def fill(values: pa.Array, default: str) -> pa.Array:
    return values.fill_null(pa.scalar(default, TEXT))


def to_numpy(values: pa.Array) -> np.ndarray:
    """Object array of str, for the rules that build their few messages with numpy."""
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


def json_strings(values: pa.Array) -> pa.Array:
    """``json.dumps(v, ensure_ascii=False)`` per value, ``null`` where missing: quotes alone unless
    a character needs escaping (a quote, a backslash, a control character), which Python does."""
    plain = join('"', values, '"')
    odd = pc.match_substring_regex(values, _NEEDS_JSON_ESCAPE).fill_null(False)
    if pc.any(odd).as_py():
        pos = np.flatnonzero(odd.to_numpy(zero_copy_only=False))
        fixed = [json.dumps(v, ensure_ascii=False) for v in take(values, pos).to_pylist()]
        plain = put(plain, pos, fixed)
    return plain.fill_null(pa.scalar("null", TEXT))


def float_repr(values: np.ndarray) -> pa.Array:
    """``repr(float(v))`` per value (``null`` where not finite: JSON has no NaN).

    A value equal to itself rounded to p <= 6 decimals is the double nearest
    k / 10**p for the integer k = rint(v * 10**p); below 1e15 that decimal is
    its shortest round-trip form, which is what repr prints: the digits of k
    with the point put back and trailing zeros dropped (one kept). Values that
    are not so rounded go through repr."""
    v = np.asarray(values, dtype="float64")
    finite = np.isfinite(v)
    fv = np.where(finite, v, 0.0)
    mag = np.abs(fv)
    text = None
    if np.all((mag == 0) | (mag >= 1e-4)):  # repr writes smaller ones with an exponent
        for places in range(1, 7):
            scaled = mag * 10.0 ** places
            if np.all(scaled < _MAX_EXACT) and np.array_equal(np.round(fv, places), fv):
                text = _decimal(np.rint(scaled).astype(np.int64), places, np.signbit(fv))
                break
    if text is None:
        codes, uniques = pd.factorize(fv.view(np.int64))  # by bits: 0.0 and -0.0 print differently
        text = take(pa.array([repr(float(u)) for u in uniques.view(np.float64)], type=TEXT), codes)
    if not finite.all():
        text = pc.if_else(pa.array(finite), text, pa.scalar("null", TEXT))
    return text


def fixed(values: np.ndarray, places: int) -> pa.Array:
    """``f"{v:.{places}f}"`` per finite value, places 0 or 1."""
    v = np.asarray(values, dtype="float64")
    scaled = v * 10.0 ** places
    k = np.rint(scaled)
    # Python rounds the exact binary value; v * 10 may itself have rounded onto a tie: ask Python there.
    tie = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6 if places else np.zeros(len(v), dtype=bool)
    text = _decimal(np.abs(k).astype(np.int64), places, np.signbit(v), keep_zeros=True)
    if tie.any():
        pos = np.flatnonzero(tie)
        text = put(text, pos, [f"{x:.{places}f}" for x in v[pos].tolist()])
    return text


def _decimal(k: np.ndarray, places: int, negative: np.ndarray, *, keep_zeros: bool = False) -> pa.Array:
    """Decimal text of k / 10**places (k >= 0), with a minus sign where ``negative``."""
    unit = 10 ** places
    whole = pc.cast(pa.array(k // unit), TEXT)
    if places == 0:
        text = whole
    elif places == 1:  # the common case (0.1 m): the tenths are one digit, kept even when 0
        text = join(whole, ".", take(_DIGITS, k % 10))
    else:
        frac = pc.utf8_lpad(pc.cast(pa.array(k % unit), TEXT), width=places, padding="0")
        if not keep_zeros:
            frac = pc.utf8_rtrim(frac, "0")
            frac = pc.if_else(pc.equal(frac, ""), pa.scalar("0", TEXT), frac)
        text = join(whole, ".", frac)
    if negative.any():
        text = pc.if_else(pa.array(negative), join("-", text), text)
    return text


def put(values: pa.Array, pos: np.ndarray, new: Sequence[str] | pa.Array) -> pa.Array:
    """``values`` with the rows at ``pos`` (ascending) replaced by ``new``, in order."""
    mask = np.zeros(len(values), dtype=bool)
    mask[pos] = True
    return pc.replace_with_mask(values, pa.array(mask), new if isinstance(new, pa.Array) else pa.array(new, TEXT))
