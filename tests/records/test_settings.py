"""Where the records live: environment variables over a config file over defaults in the
user's data folder, never the working directory; unusable values named with their source."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dermaplan.records.db import create_records_engine
from dermaplan.records.errors import DatabaseError
from dermaplan.records.settings import SettingsError, database_url, records_settings


def test_by_default_everything_is_in_the_users_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.chdir(tmp_path)
    settings = records_settings()
    home = platformdirs.user_data_path("dermaplan", appauthor=False)
    assert home != tmp_path
    assert settings.home == home
    assert settings.database_url == f"sqlite:///{home / 'dermaplan.db'}"
    assert settings.audit_anchor == home / "audit-head.json"
    assert (settings.photos, settings.backups) == (home / "photos", home / "backups")
    assert settings.anchor_store == "file"
    assert settings.actor.startswith("os:")


def test_the_environment_chooses_the_home_database_and_actor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DERMAPLAN_HOME", "clinic")
    monkeypatch.setenv("DERMAPLAN_ACTOR", "staff:ana")
    monkeypatch.setenv("DERMAPLAN_PHOTOS", "/mnt/photos")
    settings = records_settings()
    assert settings.home == tmp_path / "clinic"  # made absolute once, here
    assert settings.database_url == f"sqlite:///{tmp_path / 'clinic' / 'dermaplan.db'}"
    assert settings.photos == Path("/mnt/photos")
    assert settings.actor == "staff:ana"
    url = "postgresql://dermaplan@db.internal/records"
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", url)
    assert records_settings().database_url == url


def test_the_old_data_dir_variable_still_names_the_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERMAPLAN_DATA_DIR", "/var/lib/dermaplan")
    assert records_settings().home == Path("/var/lib/dermaplan")
    monkeypatch.setenv("DERMAPLAN_HOME", "/srv/dermaplan")
    assert records_settings().home == Path("/srv/dermaplan")


def test_a_config_file_in_the_home_is_read_and_the_environment_overrides_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(
        'database_url = "postgresql://clinic@db/records"\nactor = "staff:file"\n',
        encoding="utf-8",
    )
    settings = records_settings()
    assert (settings.database_url, settings.actor) == (
        "postgresql://clinic@db/records",
        "staff:file",
    )
    monkeypatch.setenv("DERMAPLAN_ACTOR", "staff:env")
    assert records_settings().actor == "staff:env"


def test_dermaplan_config_names_the_file_which_may_name_the_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "etc" / "dermaplan.toml"
    config.parent.mkdir()
    config.write_text(f'home = "{tmp_path / "records"}"\n', encoding="utf-8")
    monkeypatch.setenv("DERMAPLAN_CONFIG", str(config))
    settings = records_settings()
    assert settings.home == tmp_path / "records"
    assert settings.audit_anchor == tmp_path / "records" / "audit-head.json"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('databse_url = "sqlite:///x.db"\n', "'databse_url' is not a setting"),
        ("database_url = \n", "not valid TOML"),
        ('database_url = "sqlite:///"\n', "database_url in "),
    ],
)
def test_a_bad_config_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, problem: str
) -> None:
    monkeypatch.setenv("DERMAPLAN_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=problem) as raised:
        records_settings()
    assert str(tmp_path / "config.toml") in str(raised.value)


def test_a_missing_named_config_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DERMAPLAN_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(SettingsError, match=r"^DERMAPLAN_CONFIG: no such file .*nowhere\.toml"):
        records_settings()


@pytest.mark.parametrize(
    "url",
    ["sqlite:///", "sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"],
)
def test_an_in_memory_database_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """An unset variable in `sqlite:///$DB` would keep the records in memory: 'added', and
    gone when the command ends."""
    monkeypatch.setenv("DERMAPLAN_DATABASE_URL", url)
    with pytest.raises(SettingsError) as raised:
        records_settings()
    assert str(raised.value).startswith("DERMAPLAN_DATABASE_URL: ")
    assert "names no database file" in str(raised.value)


def test_only_the_file_anchor_store_exists_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERMAPLAN_ANCHOR_STORE", "s3")
    with pytest.raises(SettingsError, match=r"^DERMAPLAN_ANCHOR_STORE: Input should be 'file'"):
        records_settings()


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:///records.db", "sqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_postgresql_always_goes_through_psycopg_3(raw: str, driver: str) -> None:
    assert database_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["mysql://u:secret@h/db", "records.db", "sqlite+aiosqlite:///x"])
def test_other_databases_are_refused_without_showing_passwords(raw: str) -> None:
    with pytest.raises(DatabaseError) as raised:
        database_url(raw)
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite:/// ", "names no database file"),
        ("sqlite:///%20", "names no database file"),
        ("sqlite://host/records.db", "names a host"),
        ("sqlite://u:secret@host/records.db", "names a host"),
        ("sqlite:////var/lib/dermaplan/", "names a folder"),
        ("sqlite:///.", "names a folder"),
        ("sqlite:///records%00.db", "control characters"),
        ("postgresql://u:secret@h:port/db", "is not a database URL"),
        ("postgresql://u:secret@h:99999/db", "is not a port"),
    ],
)
def test_a_url_that_names_no_file_or_server_is_refused(url: str, problem: str) -> None:
    """`sqlite:///$DIR/` or `sqlite://$HOST/x.db` with a variable unset or misplaced: refused
    at the settings, in one line, never a traceback when the database is opened."""
    with pytest.raises(DatabaseError, match=problem) as raised:
        database_url(url)
    assert "secret" not in str(raised.value)


def pieces(*choices: str) -> st.SearchStrategy[str]:
    return st.sampled_from(choices)


# URLs as a variable left unset or misplaced makes them: scheme://[user[:password]@][host]
# [:port]/[path][?query], each part present, empty, or odd
URLS = st.tuples(
    pieces("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "mysql", "sqlite+aiosqlite"),
    pieces("://", ":/", ":///", "://///"),
    pieces("", "u@", "u:secret@", ":@", "@"),
    pieces("", "h", "[::1]", "%20", " "),
    pieces("", ":5432", ":0", ":x", ":99999", ":"),
    pieces("/", "//", "", "/ "),
    pieces("", "records.db", "db/", ".", "..", ":memory:", "file:x", "%00", "x\n", "é/x.db"),
    pieces("", "?", "?mode=memory&uri=true", "#x"),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(URLS | st.text(max_size=40))
def test_a_url_is_refused_in_one_line_or_opens_a_file_or_a_server(raw: str) -> None:
    """Whatever the variable holds, the settings refuse it with a DatabaseError, or it is a
    SQLite file or a PostgreSQL server an engine can be made for."""
    try:
        url = database_url(raw)
    except DatabaseError as error:
        refused = str(error)
        assert "\n" not in refused
        return
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        assert path.strip()
        assert (path, url.query, url.host) == (path, {}, None)
        assert path != ":memory:"
        assert Path(path).name not in ("", ".", "..")
    else:
        assert url.drivername == "postgresql+psycopg"
    create_records_engine(raw).dispose()  # nothing is opened yet
