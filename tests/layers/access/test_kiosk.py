"""Wall displays: a one-time enrolment code becomes a revocable, expiring device token."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone

import pytest

from ingest.errors import ConfigError
from layers.access.errors import KioskRefused
from layers.access.kiosk import (
    ENROL_WINDOW,
    add_kiosk,
    check_token,
    enrol,
    load_kiosks,
    new_enrolment_code,
    revoke_kiosk,
)
from layers.cli import main

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def kiosks(tmp_path):
    return tmp_path / "kiosks.toml"


def test_an_enrolment_code_works_once_and_gives_a_view_only_viewer_of_the_display(kiosks):
    kiosk, code = add_kiosk("wall-1", nation="gbr", clearance="s", path=kiosks, now=T0)
    assert (kiosk.nation, kiosk.clearance, kiosk.expires_at) == ("GBR", "SECRET", T0 + timedelta(days=90))
    enrolled, token = enrol(code, path=kiosks, now=T0 + timedelta(minutes=5))
    assert enrolled.name == "wall-1" and len(token) >= 40
    viewer = check_token(token, load_kiosks(kiosks), now=T0 + timedelta(days=30)).viewer()
    assert (viewer.username, viewer.nation, viewer.clearance, viewer.role) == ("kiosk:wall-1", "GBR", "SECRET",
                                                                               "viewer")
    with pytest.raises(KioskRefused, match="unknown or already used"):
        enrol(code, path=kiosks, now=T0 + timedelta(minutes=6))


def test_the_file_holds_hashes_only_and_is_private(kiosks):
    _, code = add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks, now=T0)
    _, token = enrol(code, path=kiosks, now=T0)
    text = kiosks.read_text()
    assert code not in text and token not in text
    assert stat.S_IMODE(kiosks.stat().st_mode) == 0o600


def test_a_code_expires_after_the_enrolment_window(kiosks):
    _, code = add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks, now=T0)
    with pytest.raises(KioskRefused, match="enrolment code expired"):
        enrol(code, path=kiosks, now=T0 + ENROL_WINDOW)


def test_revocation_and_expiry_refuse_the_token(kiosks):
    _, code = add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks, now=T0,
                        lifetime=timedelta(days=1))
    _, token = enrol(code, path=kiosks, now=T0)
    with pytest.raises(KioskRefused, match="expired"):
        check_token(token, load_kiosks(kiosks), now=T0 + timedelta(days=1))
    revoke_kiosk("wall-1", path=kiosks, now=T0 + timedelta(hours=1))
    with pytest.raises(KioskRefused, match="revoked"):
        check_token(token, load_kiosks(kiosks), now=T0 + timedelta(hours=2))
    with pytest.raises(KioskRefused, match="revoked"):
        new_enrolment_code("wall-1", path=kiosks)


def test_a_new_code_replaces_the_old_token(kiosks):
    _, code = add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks, now=T0)
    _, old = enrol(code, path=kiosks, now=T0)
    fresh = new_enrolment_code("wall-1", path=kiosks, now=T0 + timedelta(hours=1))
    with pytest.raises(KioskRefused, match="unknown device token"):
        check_token(old, load_kiosks(kiosks), now=T0 + timedelta(hours=1))
    _, new = enrol(fresh, path=kiosks, now=T0 + timedelta(hours=1))
    assert check_token(new, load_kiosks(kiosks), now=T0 + timedelta(hours=2)).name == "wall-1"


@pytest.mark.parametrize("bad", [None, "", "x" * 500, "not-a-token"])
def test_junk_tokens_are_refused(kiosks, bad):
    add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks, now=T0)
    with pytest.raises(KioskRefused):
        check_token(bad, load_kiosks(kiosks), now=T0)


def test_invalid_displays_are_refused_before_anything_is_written(kiosks):
    with pytest.raises(ConfigError, match="nation"):
        add_kiosk("wall-1", nation="Atlantis", clearance="SECRET", path=kiosks)
    with pytest.raises(ConfigError, match="kiosk name"):
        add_kiosk("Wall 1!", nation="GBR", clearance="SECRET", path=kiosks)
    with pytest.raises(ConfigError, match="lifetime"):
        add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks, lifetime=timedelta(days=999))
    add_kiosk("wall-1", nation="GBR", clearance="SECRET", path=kiosks)
    with pytest.raises(ConfigError, match="already"):
        add_kiosk("wall-1", nation="FRA", clearance="SECRET", path=kiosks)
    assert not kiosks.with_name("users.toml").exists()


def test_the_cli_prints_a_link_lists_and_revokes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    assert main(["users", "kiosk", "add", "wall-2", "--nation", "FRA", "--clearance", "RESTRICTED",
                 "--url", "http://wall.example:8501"]) == 0
    out = capsys.readouterr().out
    link = next(line.strip() for line in out.splitlines() if "/kiosk/enrol?code=" in line)
    assert link.startswith("http://wall.example:8501/kiosk/enrol?code=")
    assert main(["users", "kiosk", "list"]) == 0
    assert "wall-2\tFRA\tRESTRICTED\tawaiting enrolment" in capsys.readouterr().out
    assert main(["users", "kiosk", "revoke", "wall-2"]) == 0
    main(["users", "kiosk", "list"])
    assert "\trevoked\t" in capsys.readouterr().out
