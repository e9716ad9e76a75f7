"""The command line as a practitioner uses it: outputs, exit codes, and nothing written on error."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from dermaplan.cli import app
from dermaplan.clinical.assessment import ConcernEntry
from dermaplan.clinical.relevance import questions_for
from dermaplan.interview import Invalid, optional_date, optional_int, tri_state
from dermaplan.knowledge import KnowledgeBase
from dermaplan.schemas import assessment_schema, plan_schema
from tests.conftest import EXAMPLES, ROOT, healthy

runner = CliRunner()
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_there_are_at_least_ten_examples() -> None:
    assert len(EXAMPLE_FILES) >= 10


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_each_example_gives_a_plan_valid_against_the_published_schema(example: Path) -> None:
    code, out, err = run("consult", str(example), "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    jsonschema.validate(plan, plan_schema())
    jsonschema.validate(yaml.safe_load(example.read_text()), assessment_schema())


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_readable_formats(output_format: str) -> None:
    code, out, _ = run("consult", str(EXAMPLE_FILES[0]), "--format", output_format)
    assert code == 0
    assert "Decisions" in out
    assert "References" in out


def test_published_schemas_match_the_code() -> None:
    for name, document in (("assessment", assessment_schema()), ("plan", plan_schema())):
        code, out, _ = run("schema", name)
        assert code == 0
        assert json.loads(out) == document
        published = ROOT / "docs" / "schemas" / f"{name}.schema.json"
        assert json.loads(published.read_text()) == document, f"regenerate {published.name}"


def test_a_bad_assessment_exits_2_with_located_lines(tmp_path: Path, kb: KnowledgeBase) -> None:
    data = healthy(kb)
    data["concerns"][0]["areas"] = ["cheek"]
    data["patient"]["fitzpatrick"] = 8
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = run("consult", str(path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert (
        f"error: {path}: concerns[0].areas[0]: 'cheek' is not an area — did you mean 'cheeks'?"
        in lines
    )
    assert "Traceback" not in err


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("consult_date: 2026-12-01\npatient: {age: 3\n")
    code, _, err = run("consult", str(path))
    assert code == 2
    assert err.startswith(f"error: {path}:3:1: not valid YAML or JSON")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run("consult", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such file" in err


def test_knowledge_check_and_show() -> None:
    code, out, _ = run("knowledge", "check")
    assert code == 0
    assert out.startswith("ok: k-")
    code, out, _ = run("knowledge", "show", "ingredient", "deoxycholic_acid")
    assert code == 0
    assert "no_mixing: true" in out
    assert "sources:" in out
    code, _, err = run("knowledge", "show", "ingredient", "deoxycholic")
    assert code == 2
    assert "did you mean 'deoxycholic_acid'" in err


def test_knowledge_check_reports_a_broken_clinic_layer(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules:\n  - id: x\n")
    code, _, err = run("knowledge", "check", str(tmp_path))
    assert code == 2
    assert "rules.yaml: rules[0] (id: x)" in err


@pytest.mark.parametrize("kind", ["folder", "dangling link"])
def test_a_clinic_knowledge_file_that_cannot_be_read_is_one_line(tmp_path: Path, kind: str) -> None:
    clinic = tmp_path / "clinic.yaml"
    if kind == "folder":
        clinic.mkdir()
    else:
        clinic.symlink_to(tmp_path / "gone.yaml")
    reason = "Is a directory" if kind == "folder" else "No such file or directory"
    for command in (["knowledge", "check", str(tmp_path)], ["consult", "-k", str(tmp_path), "x"]):
        code, out, err = run(*command)
        assert (code, out) == (2, "")
        assert err == f"error: {clinic}: cannot be read ({reason})\n"


def _answers(kb: KnowledgeBase) -> str:
    """The typed answers for one acne-scar patient: the questions its concerns need."""
    needed = questions_for(
        kb,
        [
            ConcernEntry(
                concern="acne_scars", areas=["cheeks"], severity="moderate", scar_types=["rolling"]
            )
        ],
    )
    lines = ["2026-12-01", "34", "female"]
    lines += ["acne_scars", "cheeks", "moderate", "rolling", "n"]
    prompts = {"pregnant": "n", "breastfeeding": "n", "fitzpatrick": "3", "glogau": "2"}
    lines += [answer for attribute, answer in prompts.items() if attribute in needed.patient]
    lines += ["n"] * len(needed.conditions)
    lines += ["never"] * len(needed.medications)
    lines += ["none"] * needed.allergies + ["n"] * needed.procedures
    lines += ["3", "medium", "4", ""]
    return "\n".join(lines) + "\n"


def test_interactive_consult_writes_the_assessment_and_shows_the_plan(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    target = tmp_path / "new.yaml"
    code, out, err = run(
        "consult", str(target), "--interactive", "--format", "json", input=_answers(kb)
    )
    assert code == 0, err
    written = yaml.safe_load(target.read_text())
    assert written["concerns"][0]["concern"] == "acne_scars"
    plan = json.loads(out[out.index('{\n  "schema_version"') :])
    assert plan["decisions"][1]["modality"] == "microneedling"


def test_interactive_never_overwrites(tmp_path: Path, kb: KnowledgeBase) -> None:
    target = tmp_path / "existing.yaml"
    target.write_text("keep me\n")
    code, _, err = run("consult", str(target), "--interactive", input=_answers(kb))
    assert code == 2
    assert "already exists" in err
    assert target.read_text() == "keep me\n"


def test_interactive_with_input_cut_short_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    code, _, err = run("consult", str(target), "--interactive", input="2026-12-01\n34\n")
    assert code == 2
    assert "nothing was written" in err
    assert not target.exists()


def test_interactive_reasks_until_an_answer_is_valid(tmp_path: Path, kb: KnowledgeBase) -> None:
    answers = _answers(kb).replace("\n34\n", "\nthirty\n34\n", 1)
    target = tmp_path / "new.yaml"
    code, _, err = run("consult", str(target), "--interactive", input=answers)
    assert code == 0
    assert "a whole number from 0 to 120" in err


@given(st.text(max_size=12) | st.sampled_from(["²", "٣٤", "３４", "1" * 5000, "-1", "+3"]))
def test_an_interview_answer_is_taken_or_asked_again_never_a_crash(text: str) -> None:
    """Whatever is typed at a prompt, the parser returns a valid answer or says what it
    wants (Invalid, and the question is asked again)."""
    for parse in (optional_int(0, 120), optional_date, tri_state):
        try:
            answer = parse(text.strip())
        except Invalid:
            continue
        assert answer is None or isinstance(answer, bool) or str(answer).isascii()


def test_an_interview_age_in_other_digits_is_asked_again(tmp_path: Path, kb: KnowledgeBase) -> None:
    answers = _answers(kb).replace("\n34\n", "\n²\n٣٤\n34\n", 1)
    code, _, err = run("consult", str(tmp_path / "new.yaml"), "--interactive", input=answers)
    assert code == 0, err
    assert err.count("a whole number from 0 to 120") == 2


def test_interactive_checks_the_output_folder_before_asking(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "new.yaml"
    code, out, err = run("consult", str(target), "--interactive", input="")
    assert (code, out) == (2, "")
    assert err == f"error: {target}: cannot be written (No such file or directory)\n"
