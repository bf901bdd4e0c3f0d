"""Releasability end to end: every viewer, every page and path, against one shared cache.

Eleven viewer profiles (tests/support/leakworld.py) sign in to the real dashboard (AppTest, in one
process, so every session shares Streamlit's caches exactly as they would on a server)
over a store of about 300 records, 20+ of them with a missing or unreadable marking.
Each record's token must reach a viewer only if the oracle (tests/support/oracle.py's rules
over each marking's known meaning) says that viewer may see it. "Reach" means anywhere in
what Streamlit would send the browser: map layers and their tooltips, tables, metrics,
ticker, alerts, charts, playback, the export the viewer prepares, the Data health page.
The viewers run one after another and then again in reverse, so each one's pages are
served from caches another nation filled. tests/dashboard/test_browser.py runs two nations at once
in a real browser against one server.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timezone

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.support.leakworld import LEAK_VIEWERS, LeakWorld, build, describe
from tests.support.oracle import oracle_sees

TOKEN = re.compile(rb"Q[IFDMT]\d{3}Z")
PAGES = {"operations": None, "commander": "views/commander.py", "analyst": "views/analyst.py",
         "health": "views/health.py"}
TABLE_LAYERS = ("incidents", "tracks", "deployments", "imagery", "infrastructure")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> LeakWorld:
    return build(tmp_path_factory.mktemp("leak") / "home", datetime.now(timezone.utc))


@pytest.fixture
def leak_env(world, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(world.home))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    return world


def _session(world: LeakWorld, username: str):
    from layers.access import load_users, start_session

    return start_session(load_users(world.home / "users.toml")[username].viewer())


def sent(at: AppTest) -> bytes:
    """Everything the page would send the browser: each element's protobuf, serialised."""
    out: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(out)


def tokens(blob: bytes) -> set[str]:
    return {m.decode() for m in TOKEN.findall(blob)}


def export_tokens(data: bytes) -> set[str]:
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = b"\n".join(z.read(n) for n in z.namelist())
    return tokens(data)


def open_page(world: LeakWorld, username: str, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=180)
    at.session_state["wf_session"] = _session(world, username)
    at.run()
    if PAGES[page]:
        at.switch_page(PAGES[page]).run()
    assert not at.exception, at.exception
    return at


def everything_seen(world: LeakWorld, username: str, role: str) -> tuple[set[str], dict]:
    """Tokens on every page and path this viewer can reach, plus a few figures to check."""
    seen: set[str] = set()
    facts: dict = {}
    for page in PAGES:
        if page == "analyst" and role == "viewer":
            continue  # not in a viewer's navigation (checked in test_signin.py)
        at = open_page(world, username, page)
        seen |= tokens(sent(at))
        if page == "operations":
            facts["metrics"] = {m.label: m.value for m in at.metric}
            facts["metric_help"] = {m.label: m.proto.help for m in at.metric}
        if page == "analyst":
            for layer in TABLE_LAYERS[1:]:
                at.segmented_control(key="table_layer").set_value(layer).run()
                seen |= tokens(sent(at))
            at.segmented_control(key="map_mode").set_value("Playback").run()
            seen |= tokens(sent(at))
            at.pills(key="alert_states").set_value(["open", "acknowledged", "resolved"]).run()
            seen |= tokens(sent(at))
            exported: set[str] = set()
            for fmt in ("kml", "csv"):
                at.selectbox(key="export_fmt").set_value(fmt).run()
                at.button(key="export_go").click().run()
                assert not at.exception, at.exception
                result = at.session_state["export_result"]
                exported |= export_tokens(result.data)
                facts.setdefault("export_markings", []).append(result.marking)
            facts["exported"] = exported
            seen |= exported
    return seen, facts


def visible_alerts(world: LeakWorld, ov) -> tuple[int, int]:
    """(open alerts the oracle lets ``ov`` see, all open alerts).

    Alerts about exactly their subjects: the stored ones whose subjects the oracle lets ``ov``
    see. Coverage gaps and hot spots (AGGREGATE_RULES) are about what exists, so the viewer gets
    them evaluated over the incidents and scenes the oracle lets them see."""
    from datetime import UTC, datetime

    from ingest.store.delta import DeltaStore
    from layers.alerts import AGGREGATE_RULES, evaluate, load_rules

    store = DeltaStore(world.home / "store")
    everything = store.alerts(states=["open"])
    alerts = everything[~everything["rule"].isin(AGGREGATE_RULES)]
    own = {}
    for layer in ("incidents", "imagery"):
        frame = store.read(layer)
        own[layer] = frame[frame["source_id"].isin(world.visible(ov, layer)).to_numpy()]
    aggregate = evaluate(own, load_rules(), datetime.now(UTC), only=AGGREGATE_RULES)
    shown = len(aggregate)
    for subjects in alerts["subjects"]:
        keys = json.loads(subjects)
        ok = bool(keys)
        for key in keys:
            layer, _, rest = key.partition("/")
            sid = rest.split("/", 1)[1]
            if layer == "tracks":
                ok &= world.track_visible(ov, sid)
            elif layer == "track_points":
                ok &= oracle_sees(ov, world.fixes[sid])
            else:
                ok &= sid in world.records and oracle_sees(ov, world.records[sid].spec)
        shown += ok
    return shown, len(everything)


def test_the_world_is_big_and_varied_enough(world):
    facts = json.loads(describe(world))
    assert facts["records"] >= 200 and facts["unreadable"] >= 20 and facts["viewers"] >= 8
    roles = {v.role for v in LEAK_VIEWERS}
    assert roles == {"viewer", "analyst", "administrator"}
    # the viewers really differ: at least six distinct visible sets
    assert len({frozenset(world.visible(v)) for v in LEAK_VIEWERS}) >= 6


def test_no_viewer_receives_a_record_not_releasable_to_them_on_any_path(leak_env):
    world = leak_env
    st.cache_resource.clear()
    report = []
    # Forward then backward: every viewer is served at least once from caches filled by others.
    for ov in [*LEAK_VIEWERS, *reversed(LEAK_VIEWERS)]:
        seen, facts = everything_seen(world, ov.username, ov.role)
        hidden = world.hidden(ov)
        leaked = sorted(seen & hidden)
        assert leaked == [], f"{ov.username} received records not releasable to them: {leaked[:10]}"
        # Not vacuous: what they may see of the window's incidents and units does reach them.
        want_incidents = world.visible(ov, "incidents")
        assert want_incidents <= seen, (ov.username, sorted(want_incidents - seen)[:5])
        assert world.visible(ov, "deployments") <= seen, ov.username
        assert {t for t in world.tracks_shown(ov)} <= seen, ov.username
        metrics = facts["metrics"]
        assert int(metrics["Incidents, 24 h"].replace(",", "")) == len(want_incidents), ov.username
        assert int(metrics["Partner units"].replace(",", "")) == len(world.visible(ov, "deployments"))
        open_alerts, all_open = visible_alerts(world, ov)
        # the wall counts cards that need action; its help says how many open alerts there are in all
        in_all = facts["metric_help"]["Needs action"].split(" open alerts in all")[0]
        assert int(in_all.replace(",", "")) == open_alerts, ov.username
        if "exported" in facts:
            # the export holds exactly the records on screen: this viewer's incidents, units, ...
            got = facts["exported"]
            for layer in ("incidents", "deployments", "infrastructure", "imagery"):
                want = world.visible(ov, layer)
                assert {t for t in got if world.records[t].layer == layer} == want, (ov.username, layer)
            assert all("UNMARKED" not in m for m in facts["export_markings"]) or ov.role == "administrator"
        report.append(f"{ov.username}: sees {len(world.visible(ov))}/{len(world.records)} tokens, "
                      f"{open_alerts}/{all_open} open alerts")
    print("\n" + "\n".join(report))


def test_an_administrator_sees_unmarked_records_and_others_do_not(leak_env):
    world = leak_env
    unmarked = {t for t, r in world.records.items() if r.layer == "incidents" and not r.spec.ok}
    assert len(unmarked) >= 10
    admin = next(v for v in LEAK_VIEWERS if v.username == "deu.admin")
    assert unmarked <= world.visible(admin)
    for ov in LEAK_VIEWERS:
        if ov.role != "administrator":
            assert not unmarked & world.visible(ov)
    at = open_page(world, "deu.admin", "operations")
    assert unmarked <= tokens(sent(at))
    banner = [h.proto.body for h in at.get("html") if "wf-banner" in h.proto.body]
    assert banner and all("UNMARKED DATA PRESENT" in b for b in banner)
    at = open_page(world, "gbr.viewer", "health")
    text = sent(at)
    # no count over records the viewer may not see (how many are unmarked), no quarantined raw rows
    assert b"missing or unreadable marking" not in text
    assert b"administrators only" in text and not tokens(text)
    at = open_page(world, "deu.admin", "health")
    assert b"missing or unreadable marking" in sent(at)  # administrators see it, to fix it


@pytest.fixture(scope="module")
def leak_url(world):
    from tests.conftest import start_dashboard

    url, proc = start_dashboard(world.home, WATCHFLOOR_REFRESH_S="3")  # refreshes overlap while both watch
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.browser
def test_two_nations_at_once_in_real_browsers_share_one_server_and_nothing_crosses(world, browser, leak_url):
    """Two people of different nations, each in their own browser context, on one server (one
    set of shared caches), their wall screens refreshing every 3 s at the same time; then one
    opens the Analyst page and the other the Commander page. Every websocket frame each
    browser receives is searched for tokens."""
    from tests.conftest import sign_in
    from tests.support.leakworld import PASSWORD

    people = {"usa.analyst": "/analyst", "tur.viewer": "/commander"}
    frames: dict[str, list[bytes]] = {name: [] for name in people}
    pages = {}
    for name in people:
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()

        def listen(ws, name=name):
            ws.on("framereceived", lambda payload: frames[name].append(
                payload if isinstance(payload, bytes) else payload.encode()))

        page.on("websocket", listen)
        sign_in(page, leak_url, name, PASSWORD)
        page.wait_for_selector("text=Partner units", timeout=90_000)
        pages[name] = page
    before = {name: len(f) for name, f in frames.items()}
    pages["usa.analyst"].wait_for_timeout(10_000)  # both wall screens refresh several times, concurrently
    assert all(len(frames[n]) > before[n] for n in people), "the wall screens did not refresh"
    for name, path in people.items():
        sign_in(pages[name], leak_url + path, name, PASSWORD)
    for name, page in pages.items():
        page.wait_for_selector("#deckgl-overlay, canvas", timeout=90_000)
        page.wait_for_timeout(3_000)
    for page in pages.values():
        page.context.close()
    ov = {v.username: v for v in LEAK_VIEWERS}
    for name in people:
        got = tokens(b"\n".join(frames[name]))
        assert not got & world.hidden(ov[name]), (name, sorted(got & world.hidden(ov[name]))[:10])
        assert world.visible(ov[name], "incidents") <= got, name  # not vacuous: their own picture arrived
