"""The same assessment and knowledge give the same plan, byte for byte, in every process:
nothing in a plan may follow the order of a set, which changes with Python's hash seed; and
whatever the engine shares between plans (what it remembers per knowledge base) is frozen,
so that no plan can change another's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
import random
import runpy
import subprocess
import sys
from collections.abc import Iterator

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import Plan
from dermaplan.knowledge import KnowledgeBase
from tests.conftest import ROOT

SHARED_PLANS = 300
IMMUTABLE = (str, int, float, bool, type(None), enum.Enum, dt.date)

ASSESSMENTS = 5_000
DIGEST = f"""
import hashlib, random, sys
sys.path.insert(0, {str(ROOT / "bench")!r})
from assessments import random_assessment
from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import plan_json
from dermaplan.knowledge import load_knowledge

kb = load_knowledge()
rng = random.Random(20261203)
digest = hashlib.sha256()
for _ in range({ASSESSMENTS}):
    digest.update(plan_json(consult(parse_assessment(random_assessment(rng, kb), kb), kb)).encode())
print(digest.hexdigest())
"""


def plans_digest(hash_seed: int) -> str:
    environment = os.environ | {"PYTHONHASHSEED": str(hash_seed)}
    done = subprocess.run(
        [sys.executable, "-c", DIGEST], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_plans_do_not_depend_on_the_hash_seed() -> None:
    assert len({plans_digest(seed) for seed in (0, 1, 7)}) == 1


def parts(value: object) -> Iterator[object]:
    """Every object a plan is made of, itself included, but the immutable leaves."""
    if isinstance(value, IMMUTABLE):
        return
    yield value
    if isinstance(value, tuple | list):
        children: list[object] = list(value)
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    else:
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    for child in children:
        yield from parts(child)


def test_what_plans_share_is_frozen(kb: KnowledgeBase) -> None:
    random_assessment = runpy.run_path(str(ROOT / "bench" / "assessments.py"))["random_assessment"]
    rng = random.Random(20261203)
    owners: dict[int, set[int]] = {}
    kept: dict[int, object] = {}
    for index in range(SHARED_PLANS):
        plan: Plan = consult(parse_assessment(random_assessment(rng, kb), kb), kb)
        for part in parts(plan):
            owners.setdefault(id(part), set()).add(index)
            kept[id(part)] = part  # alive, so that no id is reused
    shared = {type(kept[key]) for key, plans in owners.items() if len(plans) > 1}
    assert shared  # the engine does remember parts, and hands them to several plans
    for kind in shared:
        assert kind is tuple or (
            dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
        ), f"{kind.__name__} is shared between plans but can be changed"
