"""Releasability markings: read them strictly, combine them, write them canonically.

Every record carries a ``marking`` (ingest/schema.py) such as
``'UNCLASSIFIED//REL TO USA, GBR, FRA'``. This module turns that text into a
`Marking` (a classification level and the set of nations it is releasable to)
and back. It decides nothing about viewers: that is layers/access/policy.py.

Why strict: a marking we cannot read must never be guessed into a wider
audience. Anything outside the grammar below parses to ``None`` ("unreadable"),
and the access model shows unreadable records to administrators only, so a
typo hides a record (and a banner says so) instead of leaking it.

Grammar (case-insensitive, ASCII only, runs of whitespace count as one space)::

    marking        := classification [ "//" releasability ]
    releasability  := ("REL TO " | "RELEASABLE TO ") rel-list
    rel-list       := "ALL PARTNERS" | "NONE" | item { "," item }
    item           := ISO 3166-1 alpha-3 code | "XKX" (Kosovo) | coalition name

Classifications, lowest to highest, with the spellings accepted:

    0 UNCLASSIFIED  UNCLASSIFIED, UNCLAS, U
    1 RESTRICTED    RESTRICTED, R
    2 CONFIDENTIAL  CONFIDENTIAL, C
    3 SECRET        SECRET, S
    4 TOP SECRET    TOP SECRET, TS

NATO classifications (NATO UNCLASSIFIED, NATO RESTRICTED, NATO CONFIDENTIAL,
NATO SECRET, COSMIC TOP SECRET) are read as the same level releasable to the
NATO members, and only on their own: ``NATO SECRET//REL TO FIN`` is
unreadable, because a REL TO after a NATO classification may mean "also to"
or "only to", and we will not guess which.

Releasable to all partners (``rel_to is None``): exactly two forms, plain
``UNCLASSIFIED`` (any spelling of level 0, no REL TO) and an explicit
``<classification>//REL TO ALL PARTNERS``. A classified marking without a REL
TO (plain ``SECRET``) states no releasability, so it is unreadable, not "all
partners". ``REL TO NONE`` is releasable to no nation; `combine_markings`
writes it when the REL TO lists it combines have no nation in common.

Anything else is unreadable: other controls (``//NOFORN``, ``//ORCON``), two
REL TO parts, a single ``/``, empty list items (``USA,,GBR``, a trailing
comma), items not separated by commas (``USA GBR``), unknown codes (``US``,
``XXX``), ``ALL PARTNERS`` or ``NONE`` mixed with nations, national schemes we
do not map (``OFFICIAL``, ``DIFFUSION RESTREINTE``), non-ASCII text.

Coalitions: ``NATO`` (32 members, since Sweden joined in March 2024) and ``EU``
(27) are built in and cannot be redefined. Others come from the bundled
data/coalitions.default.toml (``MISSION``: the demo's contributing nations)
with ``$WATCHFLOOR_HOME/coalitions.toml`` laid over it coalition by
coalition. A coalition expands to its members when read, so a `Marking`
holds nations only.

Canonical text (`render_marking`, `highest_marking`, `combine_markings`): the
level's full name, then ``//REL TO`` and the nations in alphabetical order
separated by ``', '`` (``'RESTRICTED//REL TO FRA, GBR'``); level 0 releasable
to all partners is plain ``'UNCLASSIFIED'``. Canonical text parses back to an
equal `Marking`. With ``abbreviate=True`` a nation set equal to a coalition is
written as that coalition's name (shorter banners, but its meaning then
follows the coalition file).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ingest.config import DATA_DIR, home
from ingest.errors import ConfigError

LEVELS: tuple[str, ...] = ("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET")

# Spelling -> level. The national/generic words; also how clearances are read.
_LEVEL_WORDS: dict[str, int] = {
    "UNCLASSIFIED": 0, "UNCLAS": 0, "U": 0,
    "RESTRICTED": 1, "R": 1,
    "CONFIDENTIAL": 2, "C": 2,
    "SECRET": 3, "S": 3,
    "TOP SECRET": 4, "TS": 4,
}
# NATO classifications: level, releasable to NATO members.
_NATO_WORDS: dict[str, int] = {
    "NATO UNCLASSIFIED": 0,
    "NATO RESTRICTED": 1,
    "NATO CONFIDENTIAL": 2,
    "NATO SECRET": 3,
    "COSMIC TOP SECRET": 4,
}

ALL_PARTNERS = "ALL PARTNERS"
NO_NATION = "NONE"
UNMARKED = "UNMARKED DATA PRESENT"
MAX_MARKING_LENGTH = 4000  # longer text is not a marking; refuse before any work

# NATO members as of 2026 (32; Finland 2023, Sweden 2024). Checked by tests/ingest/test_markings.py.
NATO_MEMBERS: frozenset[str] = frozenset({
    "ALB", "BEL", "BGR", "CAN", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "ISL",
    "ITA", "LVA", "LTU", "LUX", "MNE", "NLD", "MKD", "NOR", "POL", "PRT", "ROU", "SVK", "SVN", "ESP",
    "SWE", "TUR", "GBR", "USA",
})
# EU members as of 2026 (27).
EU_MEMBERS: frozenset[str] = frozenset({
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
    "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE",
})
BUILTIN_COALITIONS: Mapping[str, frozenset[str]] = MappingProxyType({"NATO": NATO_MEMBERS, "EU": EU_MEMBERS})
# Codes that ISO 3166-1 does not assign but partners use. XKX: Kosovo (user-assigned, used by the EU and NATO).
EXTRA_NATION_CODES: frozenset[str] = frozenset({"XKX"})

DEFAULT_COALITIONS_FILE = DATA_DIR / "coalitions.default.toml"
COALITIONS_FILE_NAME = "coalitions.toml"
_RESERVED = frozenset({"ALL", NO_NATION, "PARTNERS", ALL_PARTNERS})
_COALITION_NAME = re.compile(r"[A-Z][A-Z0-9_-]{1,31}")
_WS = re.compile(r"\s+")


@lru_cache(maxsize=1)
def nation_codes() -> frozenset[str]:
    """Every code a REL TO list or a viewer may name: ISO 3166-1 alpha-3 (pycountry) plus XKX."""
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.countries) | EXTRA_NATION_CODES


def is_nation(code: object) -> bool:
    """True for an upper-case ISO 3166-1 alpha-3 code (or XKX); coalition names are not nations."""
    return isinstance(code, str) and code in nation_codes()


def level_of(name: object) -> int | None:
    """Level of a classification or clearance word (``'SECRET'``, ``'s'``, ``'Top  Secret'``), else None.

    NATO-prefixed words are not levels (they carry releasability), so they are
    refused here: a clearance is a level only."""
    if not isinstance(name, str) or not name.isascii():
        return None
    return _LEVEL_WORDS.get(_WS.sub(" ", name.strip()).upper())


@dataclass(frozen=True)
class Marking:
    """A readable marking. ``rel_to`` holds nations only (coalitions already expanded);
    None means releasable to all partners; an empty set, to no nation.

    ``raw`` is the text as stored and takes no part in equality, so two spellings
    of the same marking compare equal."""

    classification: str
    level: int
    rel_to: frozenset[str] | None
    raw: str = field(default="", compare=False)

    def releasable_to(self, nation: str) -> bool:
        return self.rel_to is None or nation in self.rel_to

    @property
    def canonical(self) -> str:
        return render_marking(self.level, self.rel_to)


# -- coalitions ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Coalitions:
    """Coalition name -> member nations, built-ins included. Immutable; compared by identity
    (the parse cache is keyed on it, and a changed file gives a new object)."""

    members: Mapping[str, frozenset[str]]
    titles: Mapping[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def get(self, name: str) -> frozenset[str] | None:
        return self.members.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.members

    def names_for(self, nations: frozenset[str]) -> list[str]:
        """Coalitions whose members are exactly ``nations``: built-ins first, then alphabetical."""
        hits = [n for n, m in self.members.items() if m == nations]
        return sorted(hits, key=lambda n: (n not in BUILTIN_COALITIONS, n))


def load_coalitions(path: str | Path | None = None, *, default: str | Path | None = DEFAULT_COALITIONS_FILE
                    ) -> Coalitions:
    """Built-ins, then ``default`` (the bundled file), then ``path`` (default
    ``$WATCHFLOOR_HOME/coalitions.toml`` if present), each coalition replacing one of the same name.

    Raises ConfigError naming the file and coalition for anything outside the rules in
    data/coalitions.default.toml: a coalition file is read whole or refused, never half-read."""
    members: dict[str, frozenset[str]] = dict(BUILTIN_COALITIONS)
    titles: dict[str, str] = {"NATO": "North Atlantic Treaty Organization", "EU": "European Union"}
    files: list[str] = []
    if path is None:
        candidate = home() / COALITIONS_FILE_NAME
        path = candidate if candidate.exists() else None
    for p in (default, path):
        if p is None:
            continue
        p = Path(p)
        try:
            with p.open("rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"coalitions file {p}", "an existing TOML file", "no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"coalitions file {p}", "valid TOML", str(exc)) from None
        for name, (nations, title) in _read_coalitions(p, doc).items():
            members[name] = nations
            titles[name] = title
        files.append(str(p))
    return Coalitions(MappingProxyType(members), MappingProxyType(titles), tuple(files))


def _read_coalitions(path: Path, doc: dict[str, Any]) -> dict[str, tuple[frozenset[str], str]]:
    extra = set(doc) - {"coalitions"}
    if extra:
        raise ConfigError(f"coalitions file {path}", "only [coalitions.NAME] tables", sorted(extra))
    table = doc.get("coalitions", {})
    if not isinstance(table, dict):
        raise ConfigError(f"coalitions file {path}", "[coalitions.NAME] tables", table)
    out: dict[str, tuple[frozenset[str], str]] = {}
    for name, body in table.items():
        where = f"{path}: coalitions.{name}"
        if not _COALITION_NAME.fullmatch(name) or name in _RESERVED or name in nation_codes():
            raise ConfigError(where, "a name of 2-32 capitals/digits/_/- that is not a nation code, "
                              "ALL, NONE or PARTNERS", name)
        if name in BUILTIN_COALITIONS:
            raise ConfigError(where, "a coalition other than the built-in NATO and EU", name)
        if not isinstance(body, dict):
            raise ConfigError(where, "a table with members = [...]", body)
        unknown = set(body) - {"members", "title"}
        if unknown:
            raise ConfigError(where, "only the keys members and title", sorted(unknown))
        raw = body.get("members")
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{where}.members", "a non-empty list of alpha-3 codes", raw)
        nations: set[str] = set()
        for item in raw:
            if is_nation(item):
                nations.add(item)
            elif isinstance(item, str) and item in BUILTIN_COALITIONS:
                nations |= BUILTIN_COALITIONS[item]
            else:
                raise ConfigError(f"{where}.members", "ISO 3166-1 alpha-3 codes (or XKX, NATO, EU)", item)
        title = body.get("title", "")
        if not isinstance(title, str):
            raise ConfigError(f"{where}.title", "text", title)
        out[name] = (frozenset(nations), title)
    return out


_COALITIONS_CACHE: dict[tuple, Coalitions] = {}


def coalitions() -> Coalitions:
    """The coalitions in force, re-read when either file changes (its mtime, size or inode)."""
    user = home() / COALITIONS_FILE_NAME
    key = (str(user), _stat_key(user), _stat_key(DEFAULT_COALITIONS_FILE))
    hit = _COALITIONS_CACHE.get(key)
    if hit is None:
        hit = load_coalitions(user if user.exists() else None)
        _COALITIONS_CACHE.clear()
        _COALITIONS_CACHE[key] = hit
    return hit


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


# -- parsing -------------------------------------------------------------------------------

def parse_marking(text: object, coalitions_: Coalitions | None = None) -> Marking | None:
    """The marking in ``text``, or None when it is missing or unreadable (see the module doc).

    Cached per (text, coalitions), so parsing the few hundred distinct markings of a
    large picture is done once."""
    if isinstance(text, Marking):
        return text
    if not isinstance(text, str):
        return None  # None, NaN, pd.NA, numbers: no marking
    return _parse_cached(text, coalitions_ if coalitions_ is not None else coalitions())


@lru_cache(maxsize=16384)
def _parse_cached(text: str, co: Coalitions) -> Marking | None:
    if len(text) > MAX_MARKING_LENGTH or not text.isascii():
        return None
    s = _WS.sub(" ", text.strip()).upper()
    if not s:
        return None
    parts = [p.strip() for p in s.split("//")]
    if len(parts) > 2 or any(not p or "/" in p for p in parts):
        return None
    head = parts[0]
    if head in _NATO_WORDS:
        if len(parts) > 1:
            return None  # "also to" or "only to"? we do not guess
        level, rel_to = _NATO_WORDS[head], NATO_MEMBERS
    elif head in _LEVEL_WORDS:
        level = _LEVEL_WORDS[head]
        if len(parts) == 1:
            if level != 0:
                return None  # classified, releasability not stated
            rel_to = None
        else:
            parsed = _parse_releasability(parts[1], co)
            if parsed is _BAD:
                return None
            rel_to = parsed  # type: ignore[assignment]
    else:
        return None
    return Marking(LEVELS[level], level, rel_to, text)


_BAD = object()


def _parse_releasability(part: str, co: Coalitions) -> frozenset[str] | None | object:
    for prefix in ("REL TO ", "RELEASABLE TO "):
        if part.startswith(prefix):
            body = part[len(prefix):]
            break
    else:
        return _BAD
    items = [t.strip() for t in body.split(",")]
    if any(not t for t in items):
        return _BAD
    if items == [ALL_PARTNERS]:
        return None
    if items == [NO_NATION]:
        return frozenset()
    nations: set[str] = set()
    codes = nation_codes()
    for item in items:
        if item in codes:
            nations.add(item)
        else:
            members = co.get(item)
            if members is None:
                return _BAD
            nations |= members
    return frozenset(nations)


@dataclass(frozen=True)
class ParsedColumn:
    """A marking column parsed once per distinct value.

    ``codes[i]`` indexes ``markings`` for row i (missing values point at a None
    entry), so any per-marking decision is made len(markings) times and spread
    to the rows with one numpy take."""

    codes: np.ndarray
    markings: tuple[Marking | None, ...]
    values: tuple[object, ...] = field(default=(), repr=False)  # the distinct raw values, aligned

    def __len__(self) -> int:
        return len(self.codes)

    def mask(self, predicate: Callable[[Marking | None], bool]) -> np.ndarray:
        """Boolean per row: ``predicate`` of that row's marking."""
        table = np.fromiter((bool(predicate(m)) for m in self.markings), dtype=bool, count=len(self.markings))
        return table[self.codes]

    @property
    def unreadable(self) -> np.ndarray:
        return self.mask(lambda m: m is None)


def parse_column(values: Iterable[object], coalitions_: Coalitions | None = None) -> ParsedColumn:
    """Parse a marking column (Series, array or list) once per distinct value.

    A categorical column is used as is (its codes); anything else is factorised.
    1M rows with a few hundred distinct markings cost tens of milliseconds, most of it
    pandas factorising the strings."""
    co = coalitions_ if coalitions_ is not None else coalitions()
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy(dtype=np.int64)
        uniques: list[object] = list(s.cat.categories)
    else:
        raw_codes, uniq = pd.factorize(s, use_na_sentinel=True)
        codes = np.asarray(raw_codes, dtype=np.int64)
        uniques = list(uniq)
    markings = tuple(parse_marking(u, co) for u in uniques) + (None,)
    codes = np.where(codes < 0, len(uniques), codes)
    return ParsedColumn(codes, markings, tuple(uniques) + (None,))


# -- combining and writing -------------------------------------------------------------------

def render_marking(level: int, rel_to: frozenset[str] | None, *, abbreviate: bool = False,
                   coalitions_: Coalitions | None = None) -> str:
    """Canonical text of a level and a nation set (see the module doc); parses back to the same."""
    name = LEVELS[level]
    if rel_to is None:
        return name if level == 0 else f"{name}//REL TO {ALL_PARTNERS}"
    if not rel_to:
        return f"{name}//REL TO {NO_NATION}"
    if abbreviate:
        names = (coalitions_ if coalitions_ is not None else coalitions()).names_for(frozenset(rel_to))
        if names:
            return f"{name}//REL TO {names[0]}"
    return f"{name}//REL TO {', '.join(sorted(rel_to))}"


@dataclass(frozen=True)
class MarkingSummary:
    """What a set of markings adds up to: the highest level, the nations every readable
    marking is releasable to (None: all partners), and whether any was unreadable."""

    level: int | None  # None when no marking was readable
    rel_to: frozenset[str] | None
    unmarked: bool
    readable: int  # distinct readable markings seen

    def text(self, *, abbreviate: bool = False, coalitions_: Coalitions | None = None) -> str:
        if self.level is None:
            return UNMARKED if self.unmarked else LEVELS[0]
        body = render_marking(self.level, self.rel_to, abbreviate=abbreviate, coalitions_=coalitions_)
        return f"{body} + {UNMARKED}" if self.unmarked else body


def summarise_markings(markings: Iterable[object], coalitions_: Coalitions | None = None) -> MarkingSummary:
    """Fold markings (text, `Marking`, None/NaN) into a `MarkingSummary`; distinct values parsed once."""
    co = coalitions_ if coalitions_ is not None else coalitions()
    if isinstance(markings, (pd.Series, pd.Index, np.ndarray, pd.api.extensions.ExtensionArray)):
        distinct: Iterable[object] = pd.unique(markings)
    else:
        distinct = _distinct(markings)
    level: int | None = None
    rel_to: frozenset[str] | None = None
    unmarked = False
    readable = 0
    suffix = f" + {UNMARKED}"
    for value in distinct:
        if isinstance(value, str) and value.endswith(suffix):
            # a summary text written here before (an alert over unmarked records): its readable
            # part still counts, so summarising summaries gives what summarising the records did
            unmarked = True
            value = value[: -len(suffix)]
        elif isinstance(value, str) and value == UNMARKED:
            unmarked = True
            continue
        m = parse_marking(value, co)
        if m is None:
            unmarked = True
            continue
        readable += 1
        level = m.level if level is None else max(level, m.level)
        if m.rel_to is not None:
            rel_to = m.rel_to if rel_to is None else rel_to & m.rel_to
    return MarkingSummary(level, rel_to, unmarked, readable)


def _distinct(values: Iterable[object]) -> list[object]:
    seen: set[object] = set()
    out: list[object] = []
    for v in values:
        try:
            if v in seen:
                continue
            seen.add(v)
        except TypeError:  # unhashable: not a marking anyway
            pass
        out.append(v)
    return out


def highest_marking(markings: Iterable[object], *, abbreviate: bool = False,
                    coalitions_: Coalitions | None = None) -> str:
    """Banner / export-name text for a set of records: highest classification and the
    INTERSECTION of their REL TO lists (all-partner markings do not narrow it).

    If any marking is unreadable the text says so: ``'<marking> + UNMARKED DATA PRESENT'``,
    or just ``'UNMARKED DATA PRESENT'`` when none was readable (only administrators are
    ever shown such records). No markings at all (an empty selection) gives
    ``'UNCLASSIFIED'``. Use `filename_tag` before putting it in a file name."""
    return summarise_markings(markings, coalitions_).text(abbreviate=abbreviate, coalitions_=coalitions_)


def classification_word(text: str) -> str | None:
    """The classification a `highest_marking` text leads with (``'SECRET'`` from
    ``'SECRET//REL TO USA + UNMARKED DATA PRESENT'``), or None when it names none
    (``'UNMARKED DATA PRESENT'``, or text this module did not write).

    For banner colours: the readable part decides the colour, as on the dashboard's
    banner; the words of the text still say that unmarked data is present."""
    if not isinstance(text, str):
        return None
    head = text.split(" + ", 1)[0].split("//", 1)[0].strip()
    return head if head in LEVELS else None


def derived_text(markings: Iterable[object], coalitions_: Coalitions | None = None) -> str:
    """The marking shown on something a viewer sees because they may see every record it was
    derived from (an alert naming an incident and a power plant): highest level, releasable
    to the nations all the readable ones are, and ``' + UNMARKED DATA PRESENT'`` when some
    could not be read (only administrators see those). Unlike `combine_markings`, which
    decides who may see a STORED derived record, this says what a visible one holds: it never
    reads ``REL TO NONE`` for something an administrator is looking at."""
    return summarise_markings(markings, coalitions_).text(coalitions_=coalitions_)


def combine_markings(markings: Iterable[object], coalitions_: Coalitions | None = None) -> str | None:
    """The marking a record derived from these records must carry (a track from its fixes):
    the highest classification, releasable only to the nations ALL of them are releasable to,
    so whoever sees the derived record may see every part of it.

    Unreadable parts (only administrators see those) make the result:
    - None (missing marking: administrators only) when every part is unreadable, or the
      readable parts are UNCLASSIFIED releasable to all partners (every administrator may
      see them, so "administrators only" is exact);
    - otherwise ``'<LEVEL>//REL TO NONE'`` (nobody), because "administrators who also meet
      the readable parts' level and REL TO" cannot be written as one marking, and the wider
      "administrators only" would show a DEU administrator the path of a USA-only fix.
      Fixing the unreadable parts and deriving again restores the normal result.
    No markings at all gives None. An empty intersection gives ``'<LEVEL>//REL TO NONE'``."""
    summary = summarise_markings(markings, coalitions_)
    if summary.level is None:
        return None
    if summary.unmarked:
        if summary.level == 0 and summary.rel_to is None:
            return None
        return render_marking(summary.level, frozenset())
    return render_marking(summary.level, summary.rel_to)


def filename_tag(text: str) -> str:
    """A marking text made safe for a file name: ``'RESTRICTED//REL TO FRA, GBR'`` ->
    ``'RESTRICTED_REL_TO_FRA_GBR'`` (letters, digits and single underscores only)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "UNMARKED"
