"""The `watchfloor` command line as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_PASSWORD, add_test_users

ROOT = Path(__file__).resolve().parents[3]


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WATCHFLOOR_HOME": str(home)}
    env.pop("WATCHFLOOR_STORE", None)
    return subprocess.run([sys.executable, "-m", "layers.cli", *args], check=False, cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)


def test_ingest_prints_one_summary_line_and_quarantines_bad_rows(tmp_path):
    f = tmp_path / "tracks.csv"
    f.write_text("track_id,time,lat,lon\n"
                 "uav-1,2026-11-20T10:00:00Z,42.66,21.17\n"
                 "uav-1,2026-11-20T10:00:05Z,42.661,21.171\n"
                 "uav-1,2026-11-20 10:00:10,42.662,21.172\n")
    r = run(tmp_path, "ingest", "tracks-csv", str(f), "--source", "partner", "--marking", "UNCLASSIFIED")
    assert r.returncode == 0, r.stderr
    assert "2 stored, 1 quarantined: naive_time 1" in r.stdout
    q = run(tmp_path, "quarantine")
    assert "naive_time" in q.stdout and "partner" in q.stdout


def test_a_file_that_cannot_be_read_names_the_file_and_exits_non_zero(tmp_path):
    f = tmp_path / "broken.xml"
    f.write_text("<event uid='x'><point lat='1'")
    r = run(tmp_path, "ingest", "cot", str(f), "--source", "s")
    assert r.returncode != 0
    assert "broken.xml" in r.stderr and "error" in r.stderr.lower()


def test_demo_load_if_empty_loads_once(tmp_path):
    first = run(tmp_path, "demo", "load", "--if-empty", "--now", "2026-11-21T12:00:00Z")
    assert first.returncode == 0, first.stderr
    assert "demo-incidents" in first.stdout and " 0 quarantined" in first.stdout
    second = run(tmp_path, "demo", "load", "--if-empty")
    assert second.returncode == 0 and "already holds data" in second.stdout
    status = run(tmp_path, "status")
    assert "incidents" in status.stdout and "quarantined: 0" in status.stdout


def test_stac_search_refuses_addresses_the_guard_forbids(tmp_path):
    r = run(tmp_path, "stac-search", "http://169.254.169.254/stac", "--source", "s")
    assert r.returncode == 2 and "169.254.169.254" in r.stderr


def test_ingest_passes_options_to_the_adapter(tmp_path):
    f = tmp_path / "units.csv"
    f.write_text("unit,country,lat,lon,time\nAlpha Coy,GBR,42.66,21.17,2026-11-20T10:00:00Z\n")
    r = run(tmp_path, "ingest", "deployments-csv", str(f), "--source", "p", "--marking", "UNCLASSIFIED",
            "--column", "unit_name=unit", "--column", "nation=country", "--column", "reported_at=time")
    assert r.returncode == 0, r.stderr
    assert "1 stored, 0 quarantined" in r.stdout


def test_alerts_run_list_and_acknowledge(tmp_path):
    assert run(tmp_path, "demo", "load").returncode == 0
    r = run(tmp_path, "alerts", "run", "--once")
    assert r.returncode == 0 and " new alerts" in r.stdout, r.stderr
    listed = run(tmp_path, "alerts", "list", "--state", "open", "--limit", "5")
    key = listed.stdout.strip().splitlines()[-1].split()[-1]
    add_test_users(tmp_path)
    ack = ["alerts", "ack", "--user", "gbr.analyst", "--password-stdin"]
    assert run(tmp_path, *ack, key, stdin=TEST_PASSWORD + "\n").returncode == 0
    assert key in run(tmp_path, "alerts", "list", "--state", "acknowledged").stdout
    from ingest.store.delta import DeltaStore

    acked = DeltaStore(tmp_path / "store").alerts(states=["acknowledged"]).set_index("key")
    assert acked.loc[key, "acknowledged_by"] == "Gbr.Analyst (gbr.analyst, GBR)"  # the signed-in person
    assert run(tmp_path, *ack, "no-such-key", stdin=TEST_PASSWORD + "\n").returncode == 1
    # a viewer watches; acknowledging needs an analyst
    refused = run(tmp_path, "alerts", "ack", "--user", "usa.viewer", "--password-stdin", key,
                  stdin=TEST_PASSWORD + "\n")
    assert refused.returncode == 2 and "Not permitted" in refused.stderr


def test_alerts_run_evaluates_in_one_process_at_a_time_and_another_takes_over(tmp_path):
    """Two evaluators on one store (two machines kept for availability): the second stands by
    while the first evaluates, and evaluates from the moment the first is killed."""
    from tests.support.storeproc import Child

    env = {**os.environ, "WATCHFLOOR_HOME": str(tmp_path)}
    env.pop("WATCHFLOOR_STORE", None)
    argv = ("alerts", "run", "--interval", "0.5", "--takeover-s", "0.2")
    first = Child(*argv, module="layers.cli", env=env)
    second = None
    try:
        first.expect(f"this evaluator (pid {first.p.pid} on ")
        first.expect("2")  # an evaluation: "2026-...Z 0 findings: ..."
        second = Child(*argv, module="layers.cli", env=env)
        standby = second.expect("standing by: ")
        assert standby.startswith(f"standing by: pid {first.p.pid} on ")
        first.expect("2")
        first.expect("2")  # the first goes on evaluating
        first.kill()
        second.expect(f"this evaluator (pid {second.p.pid} on ")
        assert second.lines == [standby, second.lines[-1]]  # it evaluated nothing while standing by
        assert " findings: " in second.expect("2")
    finally:
        for child in (first, second):
            if child is not None and child.p.poll() is None:
                child.kill()


def test_up_procfile_names_the_processes_of_a_machine(tmp_path):
    """What README's Deployment section shows: the feed runner (there is a feeds.toml), the evaluator,
    the dashboard told not to evaluate; the same file serves every machine of a shared deployment."""
    (tmp_path / "feeds.toml").write_text("")
    r = run(tmp_path, "up", "--procfile", "--address", "0.0.0.0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"feeds: watchfloor feeds run --config {tmp_path / 'feeds.toml'}",
        "alerts: watchfloor alerts run --interval 30",
        (f"dashboard: WATCHFLOOR_ALERTS_IN_DASHBOARD=0 streamlit run {ROOT / 'dashboard' / 'server.py'} "
         "--server.port 8501 --server.address 0.0.0.0"),
    ]


def test_status_prints_aligned_columns_and_json_for_scripts(tmp_path):
    import json

    f = tmp_path / "tracks.csv"
    f.write_text("track_id,time,lat,lon\n"
                 "uav-1,2026-11-20T10:00:00.123456Z,42.66,21.17\n"
                 "uav-1,2026-11-20T10:00:05.5Z,42.661,21.171\n")
    assert run(tmp_path, "ingest", "tracks-csv", str(f), "--source", "p", "--marking", "UNCLASSIFIED").returncode == 0
    r = run(tmp_path, "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header, rows = lines[0], {line.split()[0]: line for line in lines[1:-1]}
    at = header.index("newest")
    assert rows["track_points"][at:].startswith("2026-11-20T10:00:05.500000Z  ")  # not run into last write
    assert rows["borders"][at:].startswith("-  ")
    for line in rows.values():  # every column starts where its header does
        assert line[header.index("last write")] != " " and line[at - 2:at] == "  "
    assert lines[-1] == "quarantined: 0"
    doc = json.loads(run(tmp_path, "status", "--json").stdout)
    by_layer = {row["layer"]: row for row in doc["layers"]}
    assert by_layer["track_points"]["records"] == 2 and by_layer["track_points"]["newest"] == "2026-11-20T10:00:05.500000Z"
    assert by_layer["borders"] == {"layer": "borders", "records": 0, "newest": None,
                                   "last_write": by_layer["borders"]["last_write"]}
    assert doc["quarantined"] == 0
