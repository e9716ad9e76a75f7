"""Fuzzing of the edges people hand input to: random and mutated patient files, history
blobs, YAML documents (assessments, sessions, clinic knowledge), options typed on the command
line, photos and drawn signatures, each fed through the real command line (its parsing, the
input models, the records) of a throwaway SQLite clinic.

Every case must end in success (exit 0) or a clean refusal (exit 2, `error:` lines only,
no row written); anything else - a traceback, another exit code, a row written by a refused
command - is a finding, printed with the seed and case that reproduce it. Ends with one JSON
line: cases, accepted, refused, crashes, written on refusal, peak memory, cases per second.

    python bench/fuzz.py                  2 minutes
    python bench/fuzz.py --quick          40 s
    python bench/fuzz.py --minutes N      N minutes
    python bench/fuzz.py --cases N        N cases, however long they take
    python bench/fuzz.py --seed S --case I  one case again, shown in full
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import resource
import sqlite3
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PIL import Image
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
KNOWLEDGE = ROOT / "src" / "dermaplan" / "knowledge" / "data"
ADMIN, PRACTITIONER = "Nadia Belkacem", "Dr Ana Lima"
HOSTILE = [
    "\x1b[2J", "\x1b]0;owned\x07", "\x00", "\u202e", "\u2066", "\x9b", "\r", "\n", "\t", "\ud800",
    "\u200d", "Núñez", "李", "😀", "'", '"', "\\", "%s", "{}", "", " ", "x" * 300, "²",
]  # fmt: skip
TOKENS = [
    "&a ", "*a", "&b [*a, *a, *a]", "!!binary aGVsbG8=", "!!set {x, y}", "!!omap [{x: 1}]",
    "!!python/object/apply:os.system [true]", "<<: *a\n", "{", "}", "[", "]", ": ", "- ", ",",
    '"\\e]0;x\\a"', '"\\0"', '"\\u202e"', ".nan", "-.inf", "2026-13-45", "0001-01-01",
    "9" * 40, "\t", "\u202e", "\x1b", "~", "? ", "|\n", ">-\n", "'", '"', "#", "---\n", "...\n",
    "\n" + "  " * 40, "yes", "no", "null", "0x1F", "1e999", "%TAG ! tag:x,2000:\n",
]  # fmt: skip


# -- values and mutations ---------------------------------------------------------------


def text_value(rng: random.Random) -> str:
    parts = [rng.choice(HOSTILE) if rng.random() < 0.4 else "abc" for _ in range(rng.randint(1, 3))]
    return "".join(parts)


def plain_value(rng: random.Random, depth: int = 0) -> Any:
    """Any value YAML or JSON could carry, hostile ones included, nested a little."""
    roll = rng.random()
    if depth < 4 and roll < 0.15:
        return [plain_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 4 and roll < 0.3:
        return {text_value(rng): plain_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return rng.choice(
        [
            text_value(rng),
            rng.randint(-(2**70), 2**70),
            rng.choice([0, 1, -1, 2**31, 2**63]),
            rng.choice([float("nan"), float("inf"), -0.0, 1e308, 0.5]),
            rng.choice([True, False, None]),
            "2026-11-02",
            "2026-11-02T10:30:00+01:00",
        ]
    )


def mutate_text(text: str, rng: random.Random) -> str:
    """One to three edits: a span cut, a line repeated (a repeated key), lines swapped, a
    token of YAML or a hostile character put in, the end cut off."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        edit = rng.randrange(6)
        at = rng.randint(0, len(text))
        if edit == 0 and text:
            text = text[:at] + text[at + rng.randint(1, 20) :]
        elif edit == 1:
            line = rng.randrange(len(lines))
            lines.insert(line, lines[line])
            text = "\n".join(lines)
        elif edit == 2 and len(lines) > 1:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif edit in (3, 4):
            text = text[:at] + rng.choice(TOKENS) + text[at:]
        else:
            text = text[:at]
    return text


def mutate_bytes(content: bytes, rng: random.Random) -> bytes:
    data = bytearray(content)
    for _ in range(rng.randint(1, 8)):
        if not data:
            break
        edit = rng.randrange(3)
        at = rng.randrange(len(data))
        if edit == 0:
            data[at] = rng.randrange(256)
        elif edit == 1:
            del data[at : at + rng.randint(1, 64)]
        else:
            data[at:at] = rng.randbytes(rng.randint(1, 64))
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed 1-bit PNG of zeros: a few KB for many megapixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def image(rng: random.Random) -> bytes:
    out = io.BytesIO()
    kind = rng.choice(["PNG", "JPEG", "MPO", "GIF"])
    picture = Image.new(rng.choice(["RGB", "L", "RGBA", "P"]) if kind == "PNG" else "RGB",
                        (rng.randint(1, 64), rng.randint(1, 64)), "salmon")  # fmt: skip
    if kind == "MPO":
        picture.save(out, format="MPO", save_all=True, append_images=[picture])
    else:
        picture.save(out, format=kind)
    return out.getvalue()


def dumped(data: Any, rng: random.Random) -> str:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return mutate_text(text, rng) if rng.random() < 0.5 else text


# -- the clinic and the cases --------------------------------------------------------------


@dataclass
class Clinic:
    """A throwaway SQLite clinic: its folder, database, patient and consent text."""

    folder: Path
    runner: CliRunner = field(default_factory=CliRunner)
    patient: str = ""
    practitioner: str = ""
    template: str = ""

    def __post_init__(self) -> None:
        os.environ.update(
            {
                "DERMAPLAN_DATABASE_URL": f"sqlite:///{self.folder / 'clinic.db'}",
                "DERMAPLAN_HOME": str(self.folder / "home"),
                "DERMAPLAN_CACHE_DIR": str(self.folder / "cache"),
            }
        )
        os.environ.pop("DERMAPLAN_STAFF", None)
        self.must("init")
        self.must("staff", "add", ADMIN, "--role", "admin")
        self.practitioner = (
            self.must("--as", ADMIN, "staff", "add", PRACTITIONER, "--role", "practitioner")
            .split()[-1]
            .strip("()")
        )
        os.environ["DERMAPLAN_STAFF"] = PRACTITIONER
        self.patient = self.must("patients", "add", "--family-name", "Moreau").split()[1]
        consent = self.folder / "consent.txt"
        consent.write_text("I consent to mesotherapy.", encoding="utf-8")
        published = self.must(
            "--as", ADMIN, "consents", "template", "add", "treatment_mesotherapy", str(consent)
        )
        self.template = published.split()[-1]

    def must(self, *args: str) -> str:
        result = self.runner.invoke(app(), list(args))
        if result.exit_code != 0:
            raise SystemExit(f"setting up the clinic: {args}: {result.output}")
        return result.stdout.strip()

    def rows(self) -> tuple[int, ...]:
        with sqlite3.connect(self.folder / "clinic.db") as connection:
            tables = [name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]  # fmt: skip
            return tuple(
                connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
                for name in tables
            )


def app() -> Any:
    from dermaplan.cli import app as dermaplan

    return dermaplan


Case = Callable[[Clinic, random.Random, Path], list[str]]


def patient_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    data: dict[str, Any] = {
        "family_name": "Moreau",
        "given_names": "Claire",
        "birth_date": "1988-04-12",
        "sex": "female",
        "email": "claire@example.org",
        "phone": "+33 6 12 34 56 78",
        "identifiers": {"chart": "1042"},
        "allergies": ["penicillin"],
        "history": {"smoker": False},
    }
    for _ in range(rng.randint(0, 3)):
        data[rng.choice([*data, text_value(rng)])] = plain_value(rng)
    file = folder / "patient.yaml"
    file.write_text(dumped(data, rng), encoding="utf-8", errors="surrogatepass")
    return ["patients", "add", "--file", str(file)]


def history_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    """A history blob: nested data, aliases multiplied level by level, an alias inside its
    anchor, deep nesting, tags, or text mutated."""
    kind = rng.randrange(5)
    if kind == 0:
        body = json.dumps(plain_value(rng), ensure_ascii=False, allow_nan=True)
    elif kind == 1:
        width, levels = rng.randint(2, 12), rng.randint(1, 10)
        lines = [f"{{l0: &l0 [{', '.join(['lol'] * width)}]"]
        for n in range(1, levels):
            lines.append(f", l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]")
        body = "".join(lines) + "}"
    elif kind == 2:
        body = rng.choice(["&h {a: *h}", "&h [*h]", "{a: &x [1, *x]}", "&h {a: {b: *h}}"])
    elif kind == 3:
        depth = rng.choice([10, 31, 32, 33, 100, 900, 999, 1001])
        body = "{a: " + "[" * depth + "]" * depth + "}"
    else:
        body = mutate_text("{smoker: no, notes: [a, b], since: 2020-01-01}", rng)
    file = folder / "patient.yaml"
    file.write_text(
        f"family_name: Moreau\nhistory: {body}\n", encoding="utf-8", errors="surrogatepass"
    )
    return ["patients", "add", "--file", str(file)]


def assessment_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    text = rng.choice(EXAMPLES).read_text(encoding="utf-8")
    file = folder / "assessment.yaml"
    file.write_text(mutate_text(text, rng), encoding="utf-8")
    return ["consult", str(file), "--format", "json"]


def session_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    data: dict[str, Any] = {
        "patient": clinic.patient,
        "practitioner": clinic.practitioner,
        "performed_at": "2026-11-02T10:30:00+01:00",
        "modality": "microneedling",
        "areas": ["cheeks", "forehead"],
        "device": "Dermapen 4",
        "depths_mm": {"cheeks": 1.5, "forehead": 0.5},
        "passes": {"cheeks": 3, "forehead": 2},
        "products": [
            {
                "product": "ha_skin_booster",
                "lot": "HB2391",
                "expiry": "2027-03-31",
                "volumes_ml": {"cheeks": 1.0},
            }
        ],
        "notes": "pinpoint bleeding",
    }
    for _ in range(rng.randint(0, 3)):
        data[rng.choice(list(data))] = plain_value(rng)
    file = folder / "session.yaml"
    file.write_text(dumped(data, rng), encoding="utf-8", errors="surrogatepass")
    return ["sessions", "record", str(file)]


def knowledge_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    source = rng.choice(["care.yaml", "policies.yaml", "modalities.yaml", "courses.yaml"])
    layer = folder / "layer"
    layer.mkdir(exist_ok=True)
    (layer / source).write_text(
        mutate_text((KNOWLEDGE / source).read_text(encoding="utf-8"), rng), encoding="utf-8"
    )
    return ["knowledge", "check", str(layer)]


def options_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    if rng.random() < 0.5:
        return ["--as", ADMIN, "staff", "add", text_value(rng), "--role", "reception",
                "--registration", text_value(rng)]  # fmt: skip
    return ["patients", "add", "--family-name", text_value(rng), "--given-names",
            text_value(rng), "--email", text_value(rng), "--allergy", text_value(rng)]  # fmt: skip


def photo_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    roll = rng.random()
    if roll < 0.2:
        content = png_claiming(rng.choice([100, 7000, 8000, 12000, 30000]), rng.choice([100, 7100]))
    elif roll < 0.3:
        content = rng.randbytes(rng.randint(0, 2000))
    else:
        content = image(rng)
        if roll < 0.8:
            content = mutate_bytes(content, rng)
    file = folder / "photo.bin"
    file.write_bytes(content)
    stage = rng.choice(["before", "after", "follow_up"])
    return ["photos", "add", clinic.patient, str(file), "--area", "cheeks", "--angle",
            "frontal", "--stage", stage, "--taken-at", "2026-11-02T10:00:00+01:00"]  # fmt: skip


def signature_case(clinic: Clinic, rng: random.Random, folder: Path) -> list[str]:
    roll = rng.random()
    if roll < 0.3:
        png = png_claiming(rng.choice([10, 1000, 2500, 5000]), rng.choice([10, 1000, 2500]))
    else:
        png = mutate_bytes(image(rng), rng) if roll < 0.8 else rng.randbytes(200)
    data = {
        "patient": clinic.patient,
        "template": clinic.template,
        "opened_at": "2026-11-01T09:00:00+00:00",
        "signed_at": "2026-11-01T09:10:00+00:00",
        "signer": text_value(rng),
        "signature_png": base64.b64encode(png).decode(),
    }
    file = folder / "consent.yaml"
    file.write_text(dumped(data, rng), encoding="utf-8", errors="surrogatepass")
    return ["consents", "sign", str(file)]


CASES: dict[str, tuple[Case, int]] = {  # each kind with its weight
    "patient": (patient_case, 3),
    "history": (history_case, 3),
    "assessment": (assessment_case, 2),
    "session": (session_case, 2),
    "knowledge": (knowledge_case, 1),
    "options": (options_case, 1),
    "photo": (photo_case, 2),
    "signature": (signature_case, 1),
}


# -- running -------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    verdict: str  # accepted, refused, crash, written on refusal
    detail: str = ""


def one(clinic: Clinic, seed: int, index: int, folder: Path, *, show: bool = False) -> Outcome:
    rng = random.Random(f"{seed}:{index}")
    kinds = list(CASES)
    kind = rng.choices(kinds, weights=[CASES[k][1] for k in kinds])[0]
    arguments = CASES[kind][0](clinic, rng, folder)
    before = clinic.rows()
    result = clinic.runner.invoke(app(), arguments)
    if show:
        print("$ dermaplan", *arguments, file=sys.stderr)
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        if result.exc_info and not isinstance(result.exception, SystemExit):
            traceback.print_exception(*result.exc_info)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        where = traceback.extract_tb(result.exc_info[2])[-1] if result.exc_info else None
        place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        return Outcome(kind, "crash", f"{type(result.exception).__name__}{place}")
    if result.exit_code == 0:
        return Outcome(kind, "accepted")
    lines = result.stderr.splitlines()
    if (
        result.exit_code != 2
        or not lines
        or not all(line.startswith(("error: ", "hint: ")) for line in lines)
    ):
        return Outcome(kind, "crash", f"exit {result.exit_code}: {result.output[:200]!r}")
    if clinic.rows() != before:
        return Outcome(kind, "written on refusal", lines[0][:200])
    return Outcome(kind, "refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="40 s, not 2 minutes")
    parser.add_argument("--minutes", type=float, help="run this long")
    parser.add_argument("--cases", type=int, help="run this many cases, however long")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--case", type=int, help="run this one case and show it in full")
    args = parser.parse_args()
    budget = 40.0 if args.quick else 60 * (args.minutes or 2)
    with tempfile.TemporaryDirectory(prefix="dermaplan-fuzz-") as temporary:
        folder = Path(temporary)
        clinic = Clinic(folder)
        cases = folder / "cases"
        cases.mkdir()
        if args.case is not None:
            print(one(clinic, args.seed, args.case, cases, show=True))
            return
        counted: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        findings: list[dict[str, Any]] = []
        start = time.perf_counter()
        index = 0
        while (args.cases is None and time.perf_counter() - start < budget) or (
            args.cases is not None and index < args.cases
        ):
            outcome = one(clinic, args.seed, index, cases)
            counted[outcome.verdict] += 1
            kinds[outcome.kind] += 1
            if outcome.verdict not in ("accepted", "refused"):
                findings.append({"case": index, "kind": outcome.kind, "what": outcome.verdict,
                                 "detail": outcome.detail})  # fmt: skip
                print(f"finding: --seed {args.seed} --case {index}: {outcome}", file=sys.stderr)
            index += 1
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "cases": index,
        "accepted": counted["accepted"],
        "refused": counted["refused"],
        "crashes": counted["crash"],
        "written_on_refusal": counted["written on refusal"],
        "by_kind": dict(sorted(kinds.items())),
        "seed": args.seed,
        "seconds": round(elapsed, 1),
        "cases_per_s": round(index / elapsed, 1) if elapsed else 0,
        "peak_rss_mb": round(peak, 1),
        "findings": findings[:20],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
