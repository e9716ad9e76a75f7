"""The knowledge kept between commands: the same knowledge base, rebuilt whenever a file
changes or an entry cannot be trusted, in an owner-only folder, and never in the way."""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import stat
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from dermaplan.knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from dermaplan.knowledge import cache as knowledge_cache
from dermaplan.knowledge.cache import FORMAT, load_cached_knowledge
from tests.conftest import write_layer


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own cache folder (DERMAPLAN_CACHE_DIR); entries go in its knowledge/."""
    monkeypatch.setenv("DERMAPLAN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "knowledge"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """One item per full load from the YAML files (a cache miss)."""
    calls: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> KnowledgeBase:
        calls.append(args)
        return load_knowledge(*args, **kwargs)

    monkeypatch.setattr(knowledge_cache, "load_knowledge", counted)
    return calls


def assert_same(kept: KnowledgeBase, loaded: KnowledgeBase) -> None:
    for field in fields(KnowledgeBase):
        assert getattr(kept, field.name) == getattr(loaded, field.name), field.name


def entry(folder: Path) -> Path:
    (found,) = folder.glob("knowledge-*")
    return found


def lipolytics_layer(directory: Path, value: int) -> Path:
    return write_layer(directory, policies=[{"id": "allow_unapproved_lipolytics", "value": value}])


def test_a_kept_knowledge_base_equals_a_fresh_load(folder: Path, loads: list[object]) -> None:
    first = load_cached_knowledge()
    second = load_cached_knowledge()
    assert len(loads) == 1  # the second came from the cache
    assert_same(second, load_knowledge())
    assert second.version == first.version


def test_editing_a_layer_rebuilds_its_entry(
    folder: Path, loads: list[object], tmp_path: Path
) -> None:
    layer = lipolytics_layer(tmp_path / "clinic", 1)
    before = load_cached_knowledge([layer])
    assert before.policy("allow_unapproved_lipolytics") == 1
    lipolytics_layer(layer, 0)
    after = load_cached_knowledge([layer])
    assert after.policy("allow_unapproved_lipolytics") == 0
    assert after.version != before.version
    (layer / "more.yml").write_text("# a new file counts too\n", encoding="utf-8")
    load_cached_knowledge([layer])
    assert len(loads) == 3
    assert len(list(folder.glob("knowledge-*"))) == 1  # replaced, not piled up
    assert_same(load_cached_knowledge([layer]), load_knowledge([layer]))
    assert len(loads) == 3


def test_each_list_of_layers_has_its_own_entry(folder: Path, tmp_path: Path) -> None:
    layer = lipolytics_layer(tmp_path / "clinic", 1)
    assert load_cached_knowledge().policy("allow_unapproved_lipolytics") == 0
    assert load_cached_knowledge([layer]).policy("allow_unapproved_lipolytics") == 1
    assert load_cached_knowledge().policy("allow_unapproved_lipolytics") == 0
    assert len(list(folder.glob("knowledge-*"))) == 2


def _flip_a_payload_byte(data: bytes) -> bytes:
    return data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:]


def _foreign_key(data: bytes) -> bytes:
    format_line, _key, rest = data.split(b"\n", 2)
    return b"\n".join([format_line, b"0" * 64, rest])


def _another_object(data: bytes) -> bytes:
    """A well-formed entry for this very key whose payload is not a knowledge base."""
    format_line, key, _hash, _payload = data.split(b"\n", 3)
    payload = pickle.dumps({"rules": []})
    digest = hashlib.sha256(payload).hexdigest().encode()
    return b"\n".join([format_line, key, digest, payload])


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        _flip_a_payload_byte,
        _foreign_key,
        _another_object,
        lambda data: b"not a cache entry at all",
        lambda data: b"",
    ],
    ids=["truncated", "flipped-byte", "foreign-key", "another-object", "garbage", "empty"],
)
def test_a_damaged_or_foreign_entry_is_ignored_and_rebuilt(
    folder: Path, loads: list[object], damage: Any
) -> None:
    load_cached_knowledge()
    path = entry(folder)
    path.write_bytes(damage(path.read_bytes()))
    assert_same(load_cached_knowledge(), load_knowledge())
    assert len(loads) == 2
    assert entry(folder).read_bytes().startswith(FORMAT)
    load_cached_knowledge()
    assert len(loads) == 2  # the rebuilt entry is used again


def test_the_folder_and_entries_are_owner_only(folder: Path) -> None:
    load_cached_knowledge()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry(folder).stat().st_mode) == 0o600


def test_an_entry_others_could_have_written_is_not_read(folder: Path, loads: list[object]) -> None:
    load_cached_knowledge()
    entry(folder).chmod(0o664)
    load_cached_knowledge()
    assert len(loads) == 2
    assert stat.S_IMODE(entry(folder).stat().st_mode) == 0o600  # replaced by a private one


def test_a_folder_others_can_enter_is_not_used(folder: Path, loads: list[object]) -> None:
    load_cached_knowledge()
    folder.chmod(0o755)
    written = entry(folder).stat().st_mtime_ns
    load_cached_knowledge()
    load_cached_knowledge()
    assert len(loads) == 3  # every load validates the files again
    assert entry(folder).stat().st_mtime_ns == written  # and nothing is written there


def test_a_symlinked_entry_is_not_followed(
    folder: Path, loads: list[object], tmp_path: Path
) -> None:
    load_cached_knowledge()
    path = entry(folder)
    elsewhere = tmp_path / "elsewhere"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    load_cached_knowledge()
    assert len(loads) == 2


def test_a_cache_that_cannot_be_made_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("DERMAPLAN_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    assert_same(load_cached_knowledge(), load_knowledge())


def test_a_read_only_disk_only_costs_time(
    folder: Path, loads: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(knowledge_cache.tempfile, "mkstemp", refuse)
    assert_same(load_cached_knowledge(), load_knowledge())
    assert not list(folder.glob("*"))


def test_problems_are_reported_as_without_a_cache(folder: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-layer"
    with pytest.raises(KnowledgeError) as caught:
        load_cached_knowledge([missing])
    assert caught.value.problems == [f"{missing}: not a directory"]
    broken = write_layer(tmp_path / "broken", policies=[{"id": "no_such_policy", "value": 1}])
    with pytest.raises(KnowledgeError) as again:
        load_cached_knowledge([broken])
    with pytest.raises(KnowledgeError) as uncached:
        load_knowledge([broken])
    assert again.value.problems == uncached.value.problems
    assert not list(folder.glob("knowledge-*"))  # a refused knowledge base is not kept


def test_names_that_are_not_text_are_hashed_as_bytes(
    folder: Path, loads: list[object], tmp_path: Path
) -> None:
    """A layer's folder or file name need not decode (Linux names are bytes): it is kept."""
    layer = Path(os.fsdecode(os.fsencode(tmp_path) + b"/clinic-\xff"))
    lipolytics_layer(layer, 1).joinpath("policies.yaml").rename(layer / os.fsdecode(b"\xfe.yaml"))
    first = load_cached_knowledge([layer])
    assert first.policy("allow_unapproved_lipolytics") == 1
    assert_same(load_cached_knowledge([layer]), first)
    assert len(loads) == 1
