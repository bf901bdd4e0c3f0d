"""`watchfloor users` (layers/cli/users.py): passwords from stdin, never argv."""

from __future__ import annotations

import argparse
import io

import pytest


def test_cli_users_add_list_disable(tmp_path, monkeypatch, capsys):
    from layers.cli.users import add_users_arguments, users_command

    parser = argparse.ArgumentParser(prog="watchfloor users")
    add_users_arguments(parser)
    path = tmp_path / "users.toml"
    pw = "typed on stdin, not argv"
    monkeypatch.setattr("sys.stdin", io.StringIO(pw + "\n"))
    args = parser.parse_args(["--file", str(path), "add", "frank", "--nation", "POL", "--clearance", "R",
                              "--role", "analyst", "--display-name", "Frank", "--password-stdin"])
    assert args.func is users_command and users_command(args) == 0
    assert users_command(parser.parse_args(["--file", str(path), "list"])) == 0
    assert users_command(parser.parse_args(["--file", str(path), "disable", "frank"])) == 0
    out = capsys.readouterr().out
    assert "frank\tFrank\tPOL\tRESTRICTED\tanalyst\tenabled" in out and "frank: disabled" in out
    assert pw not in out and "$argon2" not in out and pw not in path.read_text()
    with pytest.raises(SystemExit):  # there is no --password option to leak into shell history
        parser.parse_args(["--file", str(path), "add", "g", "--nation", "POL", "--clearance", "R",
                           "--password", pw])
