"""The alert rules file: defaults, site overrides, refusals naming the setting (layers/alerts/rules.py)."""

from __future__ import annotations

import pytest

from ingest.errors import ConfigError
from layers import alerts


def test_default_rules_load_and_a_site_file_overrides_only_what_it_says(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    d = alerts.load_rules()
    assert d.origin.endswith("alerts.default.toml")
    assert d.incident_near_infrastructure.distances["power_plant"] == 2000.0
    assert d.loitering.min_dwell_s == 600.0 and d.loitering.radius_m == 500.0
    assert d.stale_deployment.max_age_s == 48 * 3600 and d.coverage_gap.severity is None
    (tmp_path / "alerts.toml").write_text(
        '[rules.loitering]\nradius = "0.3 km"\nmin_dwell = "15 min"\nseverity = "Critical"\n'
        '[rules.incident_near_infrastructure.distances]\nhospital = 800\n'
        '[rules.hotspot]\nenabled = "no"\n'
        '[[rules.restricted_zone_entry.zones]]\nname = "Range 4"\n'
        'wkt = "POLYGON ((20 42, 20.1 42, 20.1 42.1, 20 42.1, 20 42))"\n')
    r = alerts.load_rules()
    assert r.loitering.radius_m == 300.0 and r.loitering.min_dwell_s == 900.0 and r.loitering.severity == "critical"
    assert r.loitering.max_gap_s == 120.0  # untouched default
    assert r.incident_near_infrastructure.distances["hospital"] == 800.0
    assert r.incident_near_infrastructure.distances["power_plant"] == 2000.0
    assert not r.hotspot.enabled and "hotspot" not in r.enabled
    assert r.restricted_zone_entry.zones[0].name == "Range 4"
    assert r == alerts.load_rules()  # frozen, comparable


@pytest.mark.parametrize("toml,setting", [
    ('[rules.loitering]\nradius = "near"\n', "rules.loitering.radius"),
    ('[rules.loitering]\nmin_dwell = "soon"\n', "rules.loitering.min_dwell"),
    ('[rules.loitering]\nkinds = ["castle"]\n', "rules.loitering.kinds"),
    ('[rules.border_crossing]\nseverity = "urgent"\n', "rules.border_crossing.severity"),
    ('[rules.border_crossing]\nseverity = "inherit"\n', "rules.border_crossing.severity"),
    ('[rules.coverage_gap]\nmax_cloud = 130\n', "rules.coverage_gap.max_cloud"),
    ('[rules.hotspot]\nresolution = 6.5\n', "rules.hotspot.resolution"),
    ('[rules.loiterring]\nenabled = true\n', "rules.loiterring"),
    ('[rules.loitering]\nradiuss = 3\n', "rules.loitering.radiuss"),
    ('[rules.incident_near_infrastructure.distances]\npowerplant = 3\n',
     "rules.incident_near_infrastructure.distances.powerplant"),
    ('[[rules.restricted_zone_entry.zones]]\nname = "x"\nwkt = "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"\n',
     "rules.restricted_zone_entry.zones[0].wkt"),
    ('[rules.stale_track]\nenabled = "maybe"\n', "rules.stale_track.enabled"),
    ('rules = 3\n', "rules"),
    ('not toml = = 1\n', "alerts.toml"),
])
def test_bad_config_raises_config_error_naming_the_setting(tmp_path, toml, setting):
    path = tmp_path / "alerts.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        alerts.load_rules(path)
    assert setting in str(err.value)
    assert "expected" in str(err.value)


def test_analyst_zone_validation():
    with pytest.raises(ConfigError, match="WKT"):
        alerts.with_zone(alerts.Rules(), "bad", "LINESTRING (0 0, 1 1)")
    with pytest.raises(ConfigError, match="longitude"):
        alerts.with_zone(alerts.Rules(), "bad", "POLYGON ((0 0, 200 0, 200 1, 0 1, 0 0))")
    r = alerts.with_zone(alerts.with_zone(alerts.Rules(), "z", "POLYGON ((0 0, 1 0, 1 1, 0 0))"), "z",
                         "POLYGON ((0 0, 2 0, 2 2, 0 0))")
    assert len(r.restricted_zone_entry.zones) == 1  # redrawing a zone replaces it


def test_where_the_rules_run_is_a_site_setting_refused_unless_true_or_false(tmp_path, monkeypatch):
    from layers.alerts.refresh import in_database

    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    assert in_database()  # by default the database does what it can (PostGIS)
    (tmp_path / "watchfloor.toml").write_text("[alerts]\nin_database = false\n")
    assert not in_database()
    (tmp_path / "watchfloor.toml").write_text('[alerts]\nin_database = "no"\n')
    with pytest.raises(ConfigError, match=r"alerts.in_database in watchfloor.toml: expected true or false, found 'no'"):
        in_database()
