"""The same assessment and knowledge give the same plan, byte for byte, in every process:
nothing in a plan may follow the order of a set, which changes with Python's hash seed."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

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
