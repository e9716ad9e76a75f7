"""A short run of the fuzz harness (bench/fuzz.py): random and mutated patient files,
history blobs, YAML documents, options and images through the real command line, each
accepted or refused in one clean line with nothing written; never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_a_short_fuzz_run_finds_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz.py"), "--cases", "120", "--seed", "9"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["findings"] == []
    assert (figures["crashes"], figures["written_on_refusal"]) == (0, 0)
    assert figures["cases"] == figures["accepted"] + figures["refused"] == 120
    assert figures["accepted"] > 0
    assert set(figures["by_kind"]) == {
        "assessment", "history", "knowledge", "options", "patient", "photo", "session",
        "signature",
    }  # fmt: skip
