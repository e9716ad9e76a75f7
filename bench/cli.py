"""Benchmark of the `dermaplan` command's start-up: a consult, a records command and the help,
each timed as a whole process, against the imports no such command can avoid, timed in the
same run. Ends with one JSON line of medians, ratios and whether the bars are met.

    python bench/cli.py            40 rounds
    python bench/cli.py --quick    12 rounds (under 60 s)

It makes its own demo clinic (SQLite, `dermaplan init` then `dermaplan demo seed`) and its
own knowledge cache in a temporary folder, acting as one of the demo's practitioners; no
other database or setting is read. The cache and Python's bytecode are made once, then
every command runs once a round, in turn, so that the machine's noise falls on all of them
alike. The bars (issue 8): the consult at most 3 times `import pydantic, yaml`, `patients
list` at most 1.6 times `import sqlalchemy.orm, pydantic`, and `--help` at most 10 times
`python -c pass`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "examples" / "01-acne-scars-dehydration.yaml"
DEMO_PATIENTS = 20
PRACTITIONER = "Dr Ana Lima"  # the demo clinic's first practitioner
DERMAPLAN = str(Path(sys.executable).with_name("dermaplan"))
PYTHON = sys.executable
COMMANDS = {
    "consult_cli_s": [DERMAPLAN, "consult", str(EXAMPLE), "--format", "json"],
    "records_cli_s": [DERMAPLAN, "patients", "list"],
    "help_s": [DERMAPLAN, "--help"],
    "python_s": [PYTHON, "-c", "pass"],
    "consult_floor_s": [PYTHON, "-c", "import pydantic, yaml"],
    "records_floor_s": [PYTHON, "-c", "import sqlalchemy.orm, pydantic"],
}
# (figure, its floor, the bar on their ratio)
BARS = {
    "consult_ratio": ("consult_cli_s", "consult_floor_s", 3.0),
    "records_ratio": ("records_cli_s", "records_floor_s", 1.6),
    "help_ratio": ("help_s", "python_s", 10.0),
}


def demo_environment(folder: Path) -> dict[str, str]:
    """This process's environment without any Dermaplan setting, pointed at `folder`, and
    with Python's bytecode cache on, as an installed Dermaplan has it (pip compiles it)."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DERMAPLAN_") and name != "PYTHONDONTWRITEBYTECODE"
    }
    return environment | {
        "DERMAPLAN_HOME": str(folder / "home"),
        "DERMAPLAN_CACHE_DIR": str(folder / "cache"),
        "DERMAPLAN_STAFF": PRACTITIONER,
    }


def seconds(command: list[str], environment: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="12 rounds, not 40")
    args = parser.parse_args()
    rounds = 12 if args.quick else 40
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="dermaplan-bench-") as folder:
        environment = demo_environment(Path(folder))
        for setup in (["init"], ["demo", "seed", "--patients", str(DEMO_PATIENTS)]):
            subprocess.run([DERMAPLAN, *setup], env=environment, check=True, capture_output=True)
        for command in COMMANDS.values():  # the knowledge cache, and the files read once
            seconds(command, environment)
        for _ in range(rounds):
            for name, command in COMMANDS.items():
                timings[name].append(seconds(command, environment))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    ratios = {ratio: medians[figure] / medians[floor] for ratio, (figure, floor, _) in BARS.items()}
    figures: dict[str, float | bool] = {name: round(value, 4) for name, value in medians.items()}
    figures |= {ratio: round(value, 2) for ratio, value in ratios.items()}
    figures["bars_met"] = all(ratios[ratio] <= bar for ratio, (_, _, bar) in BARS.items())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
