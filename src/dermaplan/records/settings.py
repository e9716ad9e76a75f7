"""Where the records live and who the command line acts as: one `Settings`, read from
`DERMAPLAN_*` environment variables over an optional TOML config file (`DERMAPLAN_CONFIG`,
or `config.toml` in the home folder).

The home folder holds everything by default (the SQLite database, the audit anchor and
keyring, photos, backups). It is the platform's user data folder, or `DERMAPLAN_HOME`, never
the working directory, so a command run from another folder finds the same records. Which
values exist, their defaults and meaning: docs/records.md, "Configuration".
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_path
from pydantic import AliasChoices, Field, StringConstraints, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dermaplan.records.errors import DatabaseError

PREFIX = "DERMAPLAN_"
CONFIG_VARIABLE = f"{PREFIX}CONFIG"
HOME_VARIABLES = (f"{PREFIX}HOME", f"{PREFIX}DATA_DIR")  # DATA_DIR: its earlier name
CONFIG_FILE = "config.toml"
DATABASE_FILE = "dermaplan.db"
ANCHOR_FILE = "audit-head.json"
KEYRING_FILE = "audit-keyring.json"


class SettingsError(DatabaseError):
    """A setting that cannot be used (a variable, the config file): nothing was opened."""


def default_home() -> Path:
    return user_data_path("dermaplan", appauthor=False)


def config_file() -> Path:
    """`DERMAPLAN_CONFIG`, or `config.toml` in the home folder the environment names."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        return Path(named).expanduser().absolute()
    home = next((os.environ[name] for name in HOME_VARIABLES if os.environ.get(name)), None)
    return (Path(home).expanduser().absolute() if home else default_home()) / CONFIG_FILE


def database_url(raw: str) -> URL:
    """A SQLite file or a PostgreSQL server, PostgreSQL always through psycopg 3. Anything
    else is refused, an in-memory SQLite database above all: its records would be gone when
    the command ends, after it said they were saved."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: a port that is no number
        shown = re.sub(r"(//[^/@]*?:)[^/@]*@", r"\1***@", raw)  # no password shown
        raise DatabaseError(f"{shown!r} is not a database URL") from None
    backend = url.get_backend_name()
    if backend == "sqlite" and url.drivername in ("sqlite", "sqlite+pysqlite"):
        return _sqlite_file(raw, url)
    if backend in ("postgresql", "postgres"):
        if url.port is not None and not 0 < url.port < 2**16:
            shown = url.render_as_string(hide_password=True)
            raise DatabaseError(f"{shown!r}: {url.port} is not a port")
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseError(
        f"{url.render_as_string(hide_password=True)!r}: "
        "Dermaplan keeps records in SQLite (sqlite:///FILE) or PostgreSQL (postgresql://...)"
    )


def _sqlite_file(raw: str, url: URL) -> URL:
    """`url` if it names a database file: not an empty path (an in-memory database, gone
    when the command ends), a folder, a host or query options (SQLite takes neither)."""
    path = url.database or ""
    if not path.strip() or path == ":memory:" or path.startswith("file:") or url.query:
        raise DatabaseError(
            f"{raw!r} names no database file (an empty path is an in-memory database, "
            "gone when the command ends): give sqlite:///PATH, or a server's URL"
        )
    if any(getattr(url, part) for part in ("host", "port", "username", "password")):
        shown = url.render_as_string(hide_password=True)
        raise DatabaseError(
            f"{shown!r} names a host, but SQLite keeps a file: give sqlite:///PATH (three "
            "slashes; four before an absolute path), or a server's URL"
        )
    if path.endswith(("/", "\\")) or Path(path).name in ("", ".", ".."):
        raise DatabaseError(f"{raw!r} names a folder, not a database file: give sqlite:///PATH")
    if any(unicodedata.category(char).startswith("C") for char in path):
        raise DatabaseError(f"{raw!r}: a file name cannot hold control characters")
    return url


class Settings(BaseSettings):
    """Every setting; an environment variable `DERMAPLAN_<NAME>` overrides the config file's
    `<name>`, which overrides the default. Paths are made absolute against the working
    directory."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
        validate_by_name=True,  # `home` in the config file
    )

    home: Path = Field(
        default_factory=default_home,
        validation_alias=AliasChoices(*HOME_VARIABLES),
    )
    database_url: str = Field(
        default_factory=lambda data: f"sqlite:///{data['home'] / DATABASE_FILE}"
    )
    audit_anchor: Path = Field(default_factory=lambda data: data["home"] / ANCHOR_FILE)
    # The secret keys that sign the audit log, owner-only (records.keyring).
    audit_keyring: Path = Field(default_factory=lambda data: data["home"] / KEYRING_FILE)
    # Where the anchor is kept: "file", the local file `audit_anchor` (see records.anchor).
    anchor_store: Literal["file"] = "file"
    photos: Path = Field(default_factory=lambda data: data["home"] / "photos")
    backups: Path = Field(default_factory=lambda data: data["home"] / "backups")
    # Who the command line acts as in audit events, until logins exist.
    actor: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        default_factory=lambda: f"os:{_login()}"
    )

    @field_validator("home", "audit_anchor", "audit_keyring", "photos", "backups")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _file_or_server(cls, raw: str) -> str:
        try:
            database_url(raw)
        except DatabaseError as error:
            raise ValueError(str(error)) from None
        return raw

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_file()))


def records_settings() -> Settings:
    """The settings in force, or SettingsError with one line per problem, each naming the
    variable or config file it comes from."""
    config = config_file()
    if os.environ.get(CONFIG_VARIABLE) and not config.is_file():
        raise SettingsError(f"{CONFIG_VARIABLE}: no such file {config}")
    try:
        return Settings()
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{config}: not valid TOML: {error}") from None
    except ValidationError as error:
        problems = [e for e in error.errors() if e["type"] != "default_factory_not_called"]
        raise SettingsError("; ".join(_problem(e, config) for e in problems)) from None


def _problem(error: Any, config: Path) -> str:
    name = str(error["loc"][0]) if error["loc"] else ""
    if name.upper() in HOME_VARIABLES:  # reported under the alias it was validated by
        name = "home"
    if error["type"] == "extra_forbidden":
        return f"{config}: '{name}' is not a setting"
    cause = error.get("ctx", {}).get("error")
    message = str(cause) if isinstance(cause, ValueError) else str(error["msg"])
    variables = HOME_VARIABLES if name == "home" else (f"{PREFIX}{name.upper()}",)
    where = next(
        (v for v in variables if os.environ.get(v)), f"{name} in {config} ({variables[0]})"
    )
    return f"{where}: {message}"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary container uid
        return f"uid{os.getuid()}"
