"""Benchmark of the consult engine: latency of one consult, throughput on one core, and
the start-up of `dermaplan --help`. Ends with one JSON line of figures.

    python bench/consult.py            100,000 generated assessments
    python bench/consult.py --quick    10,000 (well under 30 s)
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from assessments import random_assessment
from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import plan_json
from dermaplan.knowledge import load_knowledge


def help_seconds(runs: int) -> float:
    executable = Path(sys.executable).with_name("dermaplan")
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(executable), "--help"], check=True, capture_output=True)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 assessments, not 100,000")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    count = 10_000 if args.quick else 100_000

    kb = load_knowledge()
    rng = random.Random(args.seed)
    assessments = [parse_assessment(random_assessment(rng, kb), kb) for _ in range(count)]
    # The inputs and the knowledge live for the whole run: keep the cycle collector from
    # rescanning them (a service receives one assessment at a time and has no such heap).
    gc.collect()
    gc.freeze()

    latencies = []
    started = time.perf_counter()
    for assessment in assessments:
        begin = time.perf_counter_ns()
        consult(assessment, kb)
        latencies.append(time.perf_counter_ns() - begin)
    elapsed = time.perf_counter() - started

    sample = assessments[: min(2000, count)]
    begin = time.perf_counter()
    for assessment in sample:
        plan_json(consult(assessment, kb))
    json_ms = (time.perf_counter() - begin) / len(sample) * 1000

    latencies.sort()
    figures = {
        "assessments": count,
        "consult_median_ms": round(statistics.median(latencies) / 1e6, 4),
        "consult_p95_ms": round(latencies[int(0.95 * count)] / 1e6, 4),
        "consults_per_s": round(count / elapsed),
        "consult_with_json_ms": round(json_ms, 4),
        "help_s": round(help_seconds(5 if args.quick else 15), 4),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
