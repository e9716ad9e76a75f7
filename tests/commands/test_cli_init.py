"""`dermaplan init` makes the database; no other command does, and each says in one line
why it cannot use what it was pointed at."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dermaplan.records.anchor import LocalAnchorFile
from dermaplan.records.db import HEAD_REVISION, create_records_engine, schema_state, where
from dermaplan.records.keyring import KeyringFile
from tests.commands.cli import as_admin, run, start_clinic
from tests.records.factories import counts


def test_init_once_then_already_initialised(uninitialised: str, tmp_path: Path) -> None:
    engine = create_records_engine(uninitialised)
    database, home = where(engine), tmp_path / "data"
    engine.dispose()
    code, out, err = run("init")
    assert (code, err) == (0, "")
    assert out == (
        f"ok: created the database {database} at schema revision {HEAD_REVISION}, "
        f"its audit anchor {home / 'audit-head.json'} and audit keyring "
        f"{home / 'audit-keyring.json'}, in {home}\n"
    )
    keys = KeyringFile(home / "audit-keyring.json").require()
    code, out, err = run("init")
    assert (code, err) == (0, "")
    assert out == f"already initialised: {database} at schema revision {HEAD_REVISION}\n"
    first = LocalAnchorFile(home / "audit-head.json").read()
    assert first is not None
    assert first.heads == {}  # a new database's, before any event
    assert KeyringFile(home / "audit-keyring.json").require() == keys  # kept, never remade


def test_a_lost_keyring_is_never_remade_for_a_signed_log(
    uninitialised: str, tmp_path: Path
) -> None:
    """Events signed with a key need that key to verify: `init` refuses to make another, and
    no command writes until the keyring is put back."""
    keyring = tmp_path / "data" / "audit-keyring.json"
    assert run("init")[0] == 0
    assert run("staff", "add", "Nadia Belkacem", "--role", "admin")[0] == 0
    kept = keyring.read_bytes()
    keyring.unlink()
    code, out, err = run("init")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: no audit keyring at {keyring}, and the audit log of ")
    assert not keyring.exists()
    admin = ("--as", "Nadia Belkacem")
    code, out, err = run(*admin, "staff", "add", "Dr Ana Lima", "--role", "practitioner")
    assert (code, out) == (1, "")
    assert err == (
        f"error: no audit keyring at {keyring}: put back its copy (the audit log is signed with "
        "it), or give its place in DERMAPLAN_AUDIT_KEYRING\n"
    )
    keyring.write_bytes(kept)
    keyring.chmod(0o600)
    assert run(*admin, "staff", "add", "Dr Ana Lima", "--role", "practitioner")[0] == 0
    code, out, err = run(*admin, "audit", "verify")
    assert (code, err) == (0, ""), err


def test_a_command_before_init_stops_with_one_line_and_creates_nothing(
    uninitialised: str,
) -> None:
    engine = create_records_engine(uninitialised)
    sqlite = engine.url.get_backend_name() == "sqlite"
    where = engine.url.database if sqlite else engine.url.render_as_string(hide_password=True)
    for command in (
        ["patients", "add", "--family-name", "Moreau"],
        ["patients", "list"],
        ["audit", "verify"],
        ["demo", "seed", "--patients", "1"],
        ["backup"],
    ):
        code, out, err = run(*command)
        assert (code, out) == (1, ""), command
        assert err == f"error: no Dermaplan database at {where}: run 'dermaplan init' first\n"
    try:
        if sqlite:
            assert not Path(where or "").exists()
        else:
            assert schema_state(engine).tables == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "content", [b"", b"SQLite format 3\x00 but not really" * 64, b"date,amount\n" * 99]
)
def test_a_file_that_is_not_a_dermaplan_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path / "data"))
    code, out, err = run("patients", "list")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert path.read_bytes() == content  # untouched


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused_before_anything_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", url)
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path / "data"))
    for command in (["init"], ["patients", "add", "--family-name", "Moreau"]):
        code, out, err = run(*command)
        assert (code, out) == (1, "")
        assert err.startswith(f"error: DERMAPLAN_DATABASE_URL: '{url}' names no database file")
        assert err.count("\n") == 1
    assert not (tmp_path / "data").exists()


def test_a_bad_config_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text("database_url = sqlite\n", encoding="utf-8")
    code, _, err = run("init")
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'config.toml'}: not valid TOML")
    assert err.count("\n") == 1


def test_another_databases_anchor_is_named_not_taken_for_tampering(
    database: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = run("patients", "add", "--family-name", "Moreau")
    assert code == 0
    mine = tmp_path / "data" / "audit-head.json"
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    code, _, err = run("init")
    assert code == 1
    assert err == (
        f"error: the audit anchor {mine} is already another database's, so it cannot anchor "
        f"the new database {tmp_path / 'other.db'}: set DERMAPLAN_AUDIT_ANCHOR to a new file, "
        "or move that one away\n"
    )
    assert not (tmp_path / "other.db").exists()
    monkeypatch.setenv("DERMAPLAN_AUDIT_ANCHOR", str(tmp_path / "other-head.json"))
    assert run("init")[0] == 0
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", database)  # mine, with the other's anchor
    before = counts(engine)
    for command in (["audit", "verify"], ["patients", "add", "--family-name", "Lima"]):
        code, out, err = as_admin(*command)
        assert (code, out) == (1, "")
        assert re.fullmatch(
            rf"error: the audit anchor {re.escape(str(tmp_path / 'other-head.json'))} belongs "
            r"to another database \(\S+\), not to this one \(\S+\): give each database its "
            r"own anchor \(DERMAPLAN_AUDIT_ANCHOR\)\n",
            err,
        ), err
        assert "broken" not in err
    assert counts(engine) == before


@pytest.mark.skipif(sys.platform == "win32", reason="the user data folder is not redirected")
def test_the_default_home_is_the_users_data_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user" / "share"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run("init")[0] == 0
    start_clinic(monkeypatch)
    code, _, err = run("patients", "add", "--family-name", "Moreau")
    assert (code, err) == (0, "")
    assert list(work.iterdir()) == []
    [database] = (tmp_path / "user").rglob("dermaplan.db")
    assert database.parent.name == "dermaplan"
    if os.name == "posix":
        assert database.stat().st_mode & 0o777 == 0o600


def test_backup_without_a_path_goes_to_the_backups_folder(database: str, tmp_path: Path) -> None:
    code, out, err = as_admin("backup")
    assert (code, err) == (0, "")
    [made] = (tmp_path / "data" / "backups").glob("dermaplan-*.backup")
    assert out.startswith(f"ok: {made} — schema {HEAD_REVISION}")


def test_a_home_that_cannot_be_made_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("DERMAPLAN_HOME", str(blocked / "dermaplan"))
    code, _, err = run("init")
    assert (code, err) == (1, f"error: cannot create {blocked / 'dermaplan'}: Not a directory\n")
