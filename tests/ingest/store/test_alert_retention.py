"""Resolved alerts are kept for a retention period, then pruned; live ones never are."""

from __future__ import annotations

import pandas as pd

from tests.support.storeproc import findings

N0 = pd.Timestamp("2026-11-20T12:00:00Z")


def states(store) -> dict[str, str]:
    return dict(zip(store.alerts()["key"], store.alerts()["state"]))


def test_resolved_alerts_older_than_the_cutoff_are_pruned_with_their_acknowledgements(store):
    store.put_alerts(findings(["old", "recent", "live", "acked"]), now=N0)
    store.acknowledge("old", "alice")
    store.acknowledge("acked", "bob")
    store.put_alerts(findings(["recent", "live", "acked"]), now=N0 + pd.Timedelta(days=5))
    store.resolve_missing({"live", "acked"}, now=N0 + pd.Timedelta(days=6))  # old and recent resolved
    assert states(store) == {"old": "resolved", "recent": "resolved", "live": "open", "acked": "acknowledged"}

    # "old" was last seen live on day 0, "recent" on day 5: a 3-day retention at day 6 forgets only "old"
    assert store.prune_alerts(N0 + pd.Timedelta(days=3)) == 1
    assert states(store) == {"recent": "resolved", "live": "open", "acked": "acknowledged"}
    assert store.prune_alerts(N0 + pd.Timedelta(days=3)) == 0

    # the acknowledgement went with it: the same condition found again is a new, open alert
    store.put_alerts(findings(["old"]), now=N0 + pd.Timedelta(days=7))
    assert states(store)["old"] == "open"


def test_open_and_acknowledged_alerts_are_never_pruned_however_old(store):
    store.put_alerts(findings(["a", "b"]), now=N0)
    store.acknowledge("b", "alice")
    assert store.prune_alerts(N0 + pd.Timedelta(days=365)) == 0
    assert states(store) == {"a": "open", "b": "acknowledged"}
