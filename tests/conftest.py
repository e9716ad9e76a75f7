"""Shared fixtures: the built-in knowledge, and a fully answered healthy patient to vary."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from dermaplan.clinical.assessment import Assessment, parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Plan
from dermaplan.knowledge import KnowledgeBase, load_knowledge

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# set for the whole run, not by whoever runs it: the test server, the run's knowledge cache
KEPT = ("DERMAPLAN_TEST_POSTGRES_URL", "DERMAPLAN_CACHE_DIR")

# No property test fails for being slow: the machines that run them are shared and differ by
# several times in speed; how fast things are is the benchmarks' business (bench/).
settings.register_profile("dermaplan", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dermaplan")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under CI=true nothing is skipped: a skip, whatever its reason, fails the test, so a
    part missing on the machine cannot pass for a test that ran."""
    report = yield
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, where nothing may be: {reason}"
    return report


@pytest.fixture(scope="session", autouse=True)
def knowledge_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Commands keep their knowledge cache in the test run's own folder, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DERMAPLAN_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the settings of whoever runs it (their database, their home folder):
    a test that needs a setting sets it."""
    for name in list(os.environ):
        if name.startswith("DERMAPLAN_") and name not in KEPT:
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", os.devnull)  # never the user's data folder


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge()


def healthy(kb: KnowledgeBase) -> dict[str, Any]:
    """A patient with every safety question answered 'no'; tests change what they study."""
    return {
        "consult_date": "2026-12-01",
        "patient": {
            "age": 34,
            "sex": "female",
            "fitzpatrick": 2,
            "glogau": 2,
            "pregnant": False,
            "breastfeeding": False,
        },
        "conditions": dict.fromkeys(kb.vocabulary["conditions"], False),
        "medications": {m: {"status": "never"} for m in kb.vocabulary["medications"]},
        "allergies": [],
        "procedures": [],
        "concerns": [{"concern": "acne_scars", "areas": ["cheeks"], "severity": "moderate"}],
        "goals": {},
    }


Change = Callable[[dict[str, Any]], None]


@pytest.fixture
def patient(kb: KnowledgeBase) -> Callable[..., Assessment]:
    def make(*changes: Change, **top: Any) -> Assessment:
        data = copy.deepcopy(healthy(kb))
        data.update(top)
        for change in changes:
            change(data)
        return parse_assessment(data, kb)

    return make


@pytest.fixture
def plan_for(kb: KnowledgeBase, patient: Callable[..., Assessment]) -> Callable[..., Plan]:
    def make(*changes: Change, knowledge: KnowledgeBase | None = None, **top: Any) -> Plan:
        return consult(patient(*changes, **top), knowledge or kb)

    return make


def write_layer(directory: Path, **kinds: Any) -> Path:
    """A clinic knowledge layer with the given kinds, one file each."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, entries in kinds.items():
        (directory / f"{kind}.yaml").write_text(yaml.safe_dump({kind: entries}), encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def dosed_clinic(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """A clinic that allows the unapproved lipolytic and gives point counts to both
    deoxycholate products: per-sitting and lifetime totals then have numbers to hold."""
    kb = load_knowledge()

    def dosed(product: str, area: str, points: int) -> dict[str, Any]:
        entry = kb.products[product].model_dump(by_alias=True, mode="json", exclude_none=True)
        entry["dosing"] = [
            {"areas": [area], "points": points, "sources": ["thomas2016"], "evidence": "series"}
        ]
        return entry

    layer = write_layer(
        tmp_path_factory.mktemp("clinic"),
        policies=[{"id": "allow_unapproved_lipolytics", "value": 1}],
        products=[
            dosed("pc_dc_lipolytic", "abdomen", 300),
            dosed("deoxycholic_acid_10mg_ml", "submental", 50),
        ],
    )
    return load_knowledge([layer])
