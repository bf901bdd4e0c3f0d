"""The dashboard's evaluator child (layers/alerts/background.py) is a fresh interpreter that runs only
the evaluator: under `streamlit run` the parent's ``__main__`` is the page script, and a spawned
child that imported it again would build the whole app in the evaluator."""

from __future__ import annotations

import sys
import types

from layers.alerts import background
from tests.support.waiting import wait_until


def test_the_child_evaluates_without_importing_the_parents_main_script(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    script = tmp_path / "page_script.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('the page script ran in the child')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)  # what Streamlit leaves in sys.modules while a page runs
    monkeypatch.setitem(sys.modules, "__main__", page)
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    child = background.start(interval_s=3600)
    try:
        assert sys.modules["__main__"] is page  # put back at once
        # the first evaluation takes the lease: its lock file shows the child got that far
        wait_until(lambda: any((tmp_path / "home").rglob("*alerts*")), "the child to take the alerts lease", 120)
        assert child.is_alive()
        assert not marker.exists(), marker.read_text()
    finally:
        child.terminate()
        child.join(30)
