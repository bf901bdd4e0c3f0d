"""feeds.toml: what is accepted and what is refused, with the reason (ingest/feeds/config.py)."""

from __future__ import annotations

import pytest

from ingest.errors import ConfigError
from ingest.feeds import load_config, parse_config
from tests.ingest.feeds.conftest import DATA

pytestmark = pytest.mark.timeout(60)


def test_the_example_config_parses_into_frozen_settings():
    config = load_config(DATA / "feeds.toml")
    tracks, incidents, udp, tcp = config.feeds
    assert tracks.kind == "http-json" and tracks.layer == "track_points" and tracks.stale_after_s == 90
    assert tracks.allow_hosts.allows_name("FEEDS.mission.internal.")
    assert incidents.stale_after_s == 120 and incidents.source == "incident-reports"
    assert udp.port == 6969 and udp.group == "239.2.3.1"
    assert tcp.port == 8087 and tcp.host == "127.0.0.1"
    with pytest.raises(AttributeError):
        tracks.url = "http://elsewhere/"  # type: ignore[misc]
    with pytest.raises(TypeError):
        tracks.headers["X"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(("change", "expect"), [
    ({"intervall_s": 5}, "unknown setting 'intervall_s'"),
    ({"kind": "http"}, "kind: expected one of http-json, cot-udp, cot-tcp"),
    ({"format": "shapefile"}, "format: expected an adapter name"),
    ({"url": "file:///etc/passwd"}, "url: expected an http:// or https:// URL"),
    ({"url": "https://user:pw@feeds.example/x"}, "credentials in the URL"),
    ({"interval_s": -1}, "interval_s: expected a number > 0, found -1"),
    ({"interval_s": True}, "interval_s: expected a number of seconds"),
    ({"max_retries": 2.5}, "max_retries: expected a whole number"),
    ({"backoff_cap_s": 5}, "backoff_cap_s: expected a number >= interval_s"),
    ({"allow_hosts": ["10.0.0.0/8", "bad host!"]}, "allow_hosts: expected a list of host names"),
    ({"headers": {"Authorization": "${WATCHFLOOR_TEST_UNSET_VAR}"}}, "WATCHFLOOR_TEST_UNSET_VAR to be set"),
    ({"format": "geojson"}, "layer: expected the target layer"),
])
def test_bad_http_settings_name_the_feed_and_the_setting(change, expect):
    table = {"name": "partner-uav", "kind": "http-json", "url": "https://feeds.example/x",
             "format": "geojson-track-points", **change}
    with pytest.raises(ConfigError) as info:
        parse_config({"feed": [table]}, origin="feeds.toml")
    text = str(info.value)
    assert expect in text and "'partner-uav'" in text and "feeds.toml" in text


@pytest.mark.parametrize(("table", "expect"), [
    ({"name": "d", "kind": "cot-udp", "port": 70000}, "port: expected a whole number in 0..65535"),
    ({"name": "d", "kind": "cot-udp", "group": "10.0.0.1"}, "group: expected an IPv4 multicast"),
    ({"name": "d", "kind": "cot-udp", "group": "239.2.3.1", "host": "0.0.0.0"}, "host: expected nothing"),
    ({"name": "d", "kind": "cot-tcp", "group": "239.2.3.1"}, "unknown setting 'group'"),
    ({"name": "d", "kind": "cot-udp", "url": "http://x/"}, "unknown setting 'url'"),
    ({"name": "d", "kind": "cot-tcp", "host": "my laptop"}, "host: expected an IP address"),
    ({"kind": "cot-tcp"}, "name: expected a non-empty string"),
])
def test_bad_cot_settings_are_refused(table, expect):
    with pytest.raises(ConfigError, match=expect.replace("(", r"\(")):
        parse_config({"feed": [table]})


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[feed]]\nname = 'x\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_config(bad)
    dup = tmp_path / "dup.toml"
    dup.write_text("[[feed]]\nname='a'\nkind='cot-udp'\n[[feed]]\nname='a'\nkind='cot-tcp'\n")
    with pytest.raises(ConfigError, match="#2 name: expected a name no other feed uses"):
        load_config(dup)
    single = tmp_path / "single.toml"
    single.write_text("[feed]\nname='a'\nkind='cot-udp'\n")
    with pytest.raises(ConfigError, match=r"\[\[feed\]\]"):
        load_config(single)
