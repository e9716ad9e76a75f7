"""A worker of `dermaplan serve` starts settled: every template compiled and the knowledge
with its face map loaded before its first request, all of it (with the modules and the app)
kept out of the cycle collector's passes from then on. Run in a process of its own, as a
worker is: freezing the collector is for the whole process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dermaplan.web.app import YOUNG

STARTED = """
import gc, json
from dermaplan.web.app import from_settings
from dermaplan.web.knowledge import areas_map, knowledge
from dermaplan.web.views import environment

from_settings()
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "tracked": len(gc.get_objects()),
    "compiled": len(environment.cache),
    "templates": environment.list_templates(),
    "loaded": [knowledge.cache_info().currsize, areas_map.cache_info().currsize],
}))
"""


def test_a_worker_loads_what_it_keeps_before_its_first_request_and_freezes_it(
    tmp_path: Path,
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DERMAPLAN_")}
    environment |= {
        "DERMAPLAN_HOME": str(tmp_path / "home"),
        "DERMAPLAN_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", STARTED], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert started["compiled"] == len(started["templates"])
    assert "chart.html" in started["templates"]
    assert started["loaded"] == [1, 1]
    # What the start made is frozen: a full pass walks only what came after it.
    assert started["frozen"] > 50_000
    assert started["tracked"] < started["frozen"] / 100
    assert started["threshold"] == [YOUNG, 10, 10]  # passes of the young only, less often
