"""Random but valid assessments over the knowledge vocabulary, for benchmarks.

Each safety answer is left unknown now and then, as in real consults.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from dermaplan.knowledge import KnowledgeBase

CONSULT_DATE = dt.date(2026, 12, 1)


def _maybe(rng: random.Random, value: Any, unknown: float = 0.1) -> Any:
    return None if rng.random() < unknown else value


def random_assessment(rng: random.Random, kb: KnowledgeBase) -> dict[str, Any]:
    vocabulary = kb.vocabulary
    sex = rng.choice(["female", "male", "intersex"])
    patient: dict[str, Any] = {
        "age": _maybe(rng, rng.randint(16, 80), 0.05),
        "sex": sex,
        "fitzpatrick": _maybe(rng, rng.randint(1, 6), 0.05),
        "glogau": _maybe(rng, rng.randint(1, 4), 0.2),
    }
    if sex != "male":
        patient["pregnant"] = _maybe(rng, rng.random() < 0.05)
        patient["breastfeeding"] = _maybe(rng, rng.random() < 0.05)
    conditions = {
        item.id: _maybe(rng, rng.random() < 0.08)
        for item in kb.screening.conditions
        if not (item.female_only and sex == "male")  # settled for a man: not asked
    }
    medications: dict[str, Any] = {}
    for medication in vocabulary["medications"]:
        status = rng.choices(["never", "current", "stopped", None], [80, 5, 10, 5])[0]
        use: dict[str, Any] = {"status": status}
        if status == "stopped":
            use["last_taken"] = _maybe(
                rng, (CONSULT_DATE - dt.timedelta(days=rng.randint(1, 800))).isoformat()
            )
        medications[medication] = use
    allergies = _maybe(rng, rng.sample(vocabulary["allergens"], k=rng.choice([0, 0, 0, 1, 2])), 0.1)
    areas = sorted(kb.areas)
    procedures = _maybe(
        rng,
        [
            {
                "type": rng.choice(vocabulary["procedures"]),
                "date": (CONSULT_DATE - dt.timedelta(days=rng.randint(0, 400))).isoformat(),
                "areas": rng.sample(areas, k=rng.randint(0, 2)),
            }
            for _ in range(rng.choice([0, 0, 1, 2]))
        ],
        0.1,
    )
    concerns = []
    used: set[tuple[str, str]] = set()
    for concern in rng.sample(sorted(kb.concerns), k=rng.randint(1, 3)):
        where = kb.concerns[concern].occurs_on.areas
        picked = rng.sample(where, k=min(len(where), rng.randint(1, 3)))
        chosen = [a for a in picked if (concern, a) not in used]
        used.update((concern, a) for a in chosen)
        entry: dict[str, Any] = {
            "concern": concern,
            "areas": chosen,
            "severity": rng.choice(["mild", "moderate", "severe"]),
        }
        if kb.concerns[concern].scar_kinds:
            entry["scar_types"] = rng.sample(["rolling", "boxcar", "icepick"], k=rng.randint(1, 2))
        concerns.append(entry)
    goals = {
        "downtime_days": _maybe(rng, rng.randint(0, 7), 0.3),
        "pain_tolerance": _maybe(rng, rng.choice(["low", "medium", "high"]), 0.3),
        "max_sessions": _maybe(rng, rng.randint(1, 8), 0.3),
        "event_date": _maybe(
            rng, (CONSULT_DATE + dt.timedelta(days=rng.randint(10, 300))).isoformat(), 0.6
        ),
    }
    return {
        "consult_date": CONSULT_DATE.isoformat(),
        "patient": patient,
        "conditions": conditions,
        "medications": medications,
        "allergies": allergies,
        "procedures": procedures,
        "concerns": concerns,
        "goals": {k: v for k, v in goals.items() if v is not None},
    }
