"""The one marking an export carries: the highest classification, the common REL TO list.

A stop-gap until releasability is modelled properly (a later issue); kept small, isolated and
pure so it can be replaced without touching the writers, which only call `highest_marking`.

Rules, all deny-by-default:

- Classifications order UNCLASSIFIED < RESTRICTED < CONFIDENTIAL < SECRET < TOP SECRET (the
  abbreviations U, UNCLAS, R, C, S, TS are accepted). The export takes the highest.
- `CLASS//REL TO A, B, C` (or RELEASABLE TO) limits release to the listed nations or groups;
  `REL TO ALL PARTNERS` is no limit and `REL TO NONE` releases to nobody. An export is
  releasable only to a nation that every record is releasable to, so the lists are intersected.
  A record without a REL TO list is releasable to all and does not narrow the list. Groups
  (NATO, FVEY) are expanded to their members for the intersection, and written back as the group
  when every list names that group. Unknown group tokens (e.g. 'KFOR') are kept only when every
  list names them, which can only narrow the result.
- Lists that have no nation in common give `<CLASS>//REL TO NONE`: nobody outside the originator.
- Written canonically: nations in alphabetical order, then groups ('RESTRICTED//REL TO FRA, GBR').
- A missing, empty or unreadable marking (anything other than the two shapes above, e.g. a
  caveat this module does not know such as 'NOFORN' or 'FOUO') could hide anything, so it
  dominates everything: the export is labelled `UNMARKED` = "UNMARKED//NO RELEASE" and must be
  reviewed before it leaves the building. This matches the store's rule that an unmarked record
  is shown to nobody but administrators.
- No records at all: UNCLASSIFIED (there is nothing in the file to protect).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CLASSIFICATIONS: tuple[str, ...] = ("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET")
ALIASES: dict[str, str] = {"U": "UNCLASSIFIED", "UNCLAS": "UNCLASSIFIED", "R": "RESTRICTED", "C": "CONFIDENTIAL",
                           "S": "SECRET", "TS": "TOP SECRET"}
UNMARKED = "UNMARKED//NO RELEASE"
NO_RELEASE_LIST = "NONE"

NATO = frozenset({
    "ALB", "BEL", "BGR", "CAN", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA", "GBR", "GRC", "HRV",
    "HUN", "ISL", "ITA", "LTU", "LUX", "LVA", "MKD", "MNE", "NLD", "NOR", "POL", "PRT", "ROU", "SVK",
    "SVN", "SWE", "TUR", "USA",
})
GROUPS: dict[str, frozenset[str]] = {
    "NATO": NATO,
    "FVEY": frozenset({"AUS", "CAN", "GBR", "NZL", "USA"}),
}

_REL_TO = re.compile(r"^(?:REL|RELEASABLE) TO (.+)$")
ALL_PARTNERS = "ALL PARTNERS"
_TOKEN = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")


@dataclass(frozen=True)
class Marking:
    level: int  # index into CLASSIFICATIONS
    rel_to: frozenset[str] | None  # None: no REL TO list, releasable to all


def parse_marking(text: str | None) -> Marking | None:
    """The marking of one record, or None when it is missing or not understood."""
    if text is None or not isinstance(text, str):
        return None
    norm = " ".join(text.upper().split())
    if not norm:
        return None
    parts = [p.strip() for p in norm.split("//")]
    classification = ALIASES.get(parts[0], parts[0])
    if classification not in CLASSIFICATIONS or len(parts) > 2:
        return None
    rel_to: frozenset[str] | None = None
    if len(parts) == 2:
        m = _REL_TO.match(parts[1])
        if not m:
            return None
        listed = m.group(1).strip()
        if listed == ALL_PARTNERS:
            return Marking(CLASSIFICATIONS.index(classification), None)
        if listed == NO_RELEASE_LIST:
            return Marking(CLASSIFICATIONS.index(classification), frozenset())
        tokens = [t.strip() for t in listed.split(",")]
        if not tokens or not all(_TOKEN.match(t) and t != NO_RELEASE_LIST for t in tokens):
            return None
        rel_to = frozenset(tokens)
    return Marking(CLASSIFICATIONS.index(classification), rel_to)


def _expand(tokens: frozenset[str]) -> set[str]:
    out = set(tokens)
    for t in tokens:
        out |= GROUPS.get(t, frozenset())
    return out


def _order(tokens: Iterable[str]) -> list[str]:
    """Nation trigraphs alphabetically, then groups and other tokens."""
    return sorted(tokens, key=lambda t: (len(t) != 3, t))


def combine(markings: Iterable[Marking]) -> str:
    """The label for records whose (parsed) markings are given."""
    level = 0
    lists: list[frozenset[str]] = []
    for m in markings:
        level = max(level, m.level)
        if m.rel_to is not None:
            lists.append(m.rel_to)
    label = CLASSIFICATIONS[level]
    if not lists:
        return label
    common = _expand(lists[0])
    for tokens in lists[1:]:
        common &= _expand(tokens)
    kept_groups = {g for g in GROUPS if all(g in tokens for tokens in lists)}
    implied = set().union(*(GROUPS[g] for g in kept_groups)) if kept_groups else set()
    # A group token survives only when every list names it literally.
    result = {t for t in common if (t not in GROUPS or t in kept_groups) and t not in implied}
    if not result:
        return f"{label}//REL TO {NO_RELEASE_LIST}"
    return f"{label}//REL TO {', '.join(_order(result))}"


def highest_marking(markings: Iterable[str | None]) -> str:
    """The marking of an export holding records with these markings (see the module docstring)."""
    parsed: set[Marking] = set()
    seen_text: set[object] = set()
    for text in markings:
        if text in seen_text:  # exports repeat a handful of markings many thousand times
            continue
        seen_text.add(text)
        m = parse_marking(text if isinstance(text, str) else None)
        if m is None:
            return UNMARKED
        parsed.add(m)
    return combine(parsed)


def classification_word(label: str) -> str:
    """'SECRET' from 'SECRET//REL TO USA, GBR'; 'UNMARKED' for the deny-by-default label."""
    return label.split("//", 1)[0]
