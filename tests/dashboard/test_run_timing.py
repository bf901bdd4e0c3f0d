"""Every dashboard run leaves its server time in the log: DEBUG when quick, a WARNING above a second,
so a wall that froze during a shift can be traced to the page and the moment (issue 13)."""

from __future__ import annotations

import logging

import pytest

from dashboard import timing
from ingest.config import log_level
from ingest.errors import ConfigError


def test_a_quick_run_is_a_debug_line_and_a_slow_one_a_warning(caplog, monkeypatch):
    caplog.set_level(logging.DEBUG, logger="watchfloor.dashboard.runs")
    with timing.timed("page Operations"):
        pass
    monkeypatch.setattr(timing, "SLOW_RUN_S", -1.0)  # every run is "slow" now
    with timing.timed("operations refresh"):
        pass
    quick, slow = caplog.records
    assert (quick.levelno, slow.levelno) == (logging.DEBUG, logging.WARNING)
    assert quick.getMessage().startswith("run: page Operations took 0.00 s, from ")
    assert slow.getMessage().startswith("slow run: operations refresh took ")


def test_a_run_ended_by_an_exception_is_timed_too(caplog):
    caplog.set_level(logging.DEBUG, logger="watchfloor.dashboard.runs")
    with pytest.raises(RuntimeError), timing.timed("page Analyst"):
        raise RuntimeError("a newer run replaced this one")
    assert "run: page Analyst took" in caplog.text


def test_the_log_level_comes_from_the_environment_then_the_site_file_and_a_wrong_name_is_refused(
        monkeypatch, tmp_path):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    monkeypatch.setenv("WATCHFLOOR_LOG_LEVEL", "debug")
    assert log_level(logging.INFO) == logging.DEBUG
    monkeypatch.setenv("WATCHFLOOR_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError, match="LOUD"):
        log_level(logging.INFO)
    monkeypatch.delenv("WATCHFLOOR_LOG_LEVEL")
    assert log_level(logging.WARNING) == logging.WARNING
    (tmp_path / "watchfloor.toml").write_text('[logging]\nlevel = "ERROR"\n')
    assert log_level(logging.WARNING) == logging.ERROR
