"""The consent commands: publish a template version, record a signed consent, withdraw it
(whole or one photo scope); exit 2 with one line per problem and nothing written, on both
backends."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from sqlalchemy import Engine, func, select

from dermaplan.records.db import transaction
from dermaplan.records.models import AuditEvent, Consent, ConsentTemplate, ConsentWithdrawal
from tests.commands.cli import UUID, run


def written(engine: Engine) -> tuple[int, ...]:
    """(templates, consents, withdrawals, audit events) as committed."""
    with transaction(engine, write=False) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (ConsentTemplate, Consent, ConsentWithdrawal, AuditEvent)
        )


def first_id(out: str) -> str:
    found = re.search(UUID, out)
    assert found is not None, out
    return found.group(0)


def test_publish_sign_and_withdraw_a_photo_scope(
    database: str, engine: Engine, admin: str, tmp_path: Path
) -> None:
    code, out, err = run("patients", "add", "--family-name", "Moreau", "--no-known-allergies")
    assert code == 0, err
    patient = first_id(out)
    text = tmp_path / "photo.txt"
    text.write_text("I agree to photographs being taken.\n", encoding="utf-8")
    code, out, err = run("--as", admin, "consents", "template", "add", "photo", str(text))
    assert (code, err) == (0, "")
    assert re.fullmatch(f"published photo version 1: {UUID}\n", out)
    template = first_id(out)
    code, out, _ = run("--as", admin, "consents", "template", "add", "photo", str(text))
    assert out.startswith("published photo version 2: ")

    signed = dt.datetime.now(dt.UTC)
    file = tmp_path / "consent.json"
    file.write_text(
        json.dumps(
            {
                "patient": patient,
                "template": template,
                "opened_at": signed.isoformat(),
                "signed_at": signed.isoformat(),
                "signer": "Claire Moreau",
                "signature": "C. Moreau",
                "scopes": {"clinical_record": True, "teaching": True, "marketing": True},
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run("consents", "sign", str(file))
    assert (code, err) == (0, "")
    assert re.fullmatch(f"recorded consent {UUID} \\(photo, signed\\)\n", out)
    consent = first_id(out)
    code, out, err = run(
        "consents", "withdraw", consent, "--scope", "marketing", "--reason", "not in adverts"
    )
    assert (code, out, err) == (0, f"withdrew marketing of consent {consent}\n", "")
    with transaction(engine, write=False) as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-4:] == [
        "consent_template.create",
        "consent_template.create",
        "consent.create",
        "consent.withdraw",
    ]

    before = written(engine)
    for args, error in (
        (
            ("consents", "withdraw", consent, "--scope", "marketing", "--reason", "again"),
            f"error: consent {consent}: marketing is already withdrawn",
        ),
        (
            ("consents", "withdraw", "nope", "--reason", "x"),
            "error: 'nope' is not a consent id (a UUID, as `consents sign` prints)",
        ),
        (
            ("consents", "withdraw", consent, "--reason", " "),
            "error: reason: a withdrawal needs a reason",
        ),
        (
            ("--as", admin, "consents", "template", "add", "photo", str(tmp_path / "missing.txt")),
            f"error: {tmp_path / 'missing.txt'}: cannot read it as UTF-8 text (FileNotFoundError)",
        ),
    ):
        code, out, err = run(*args)
        assert (code, out, err.splitlines()) == (2, "", [error])
    assert written(engine) == before


def test_an_unsigned_or_malformed_consent_file_exits_2_and_writes_nothing(
    database: str, engine: Engine, admin: str, tmp_path: Path
) -> None:
    code, out, _ = run("patients", "add", "--family-name", "Moreau", "--no-known-allergies")
    patient = first_id(out)
    text = tmp_path / "meso.txt"
    text.write_text("Mesotherapy consent.", encoding="utf-8")
    _, out, _ = run(
        "--as", admin, "consents", "template", "add", "treatment_mesotherapy", str(text)
    )
    template = first_id(out)
    before = written(engine)
    file = tmp_path / "consent.yaml"
    file.write_text(
        f"patient: {patient}\ntemplate: {template}\nopened_at: 2026-01-05T10:00:00+01:00\n"
        "scopes: {marketing: true}\n",
        encoding="utf-8",
    )
    code, out, err = run("consents", "sign", str(file))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "error: signed_at: a consent cannot be completed unsigned",
        "error: signer: a consent needs the signer's name",
        "error: signature: give a typed signature or signature_png, exactly one",
        "error: scopes: only photo consent has scopes, not treatment_mesotherapy",
    ]
    file.write_text(f"patient: {patient}\ntemplate: 12\nopened: yesterday\n", encoding="utf-8")
    code, out, err = run("consents", "sign", str(file))
    assert (code, out) == (2, "")
    assert all(line.startswith(f"error: {file}: ") for line in err.splitlines())
    assert len(err.splitlines()) >= 3
    assert written(engine) == before


def test_open_then_sign_list_and_show_the_texts(
    database: str, engine: Engine, admin: str, tmp_path: Path
) -> None:
    code, out, _ = run("patients", "add", "--family-name", "Moreau", "--no-known-allergies")
    patient = first_id(out)
    before = written(engine)
    for args, error in (
        (
            ("consents", "open", patient, "--kind", "photo"),
            "error: kind: no photo consent text is published yet",
        ),
        (
            ("consents", "template", "show", "photo"),
            "error: no photo consent text is published yet",
        ),
        (("consents", "open", "nope", "--kind", "photo"), "error: 'nope' is not a patient id"),
    ):
        code, out, err = run(*args)
        assert (code, out) == (2, "")
        assert err.startswith(error)
    assert written(engine) == before
    assert run("consents", "template", "list")[2].startswith("no consent text published yet")

    texts = ("Photos, first wording.", "Photos, second wording:\n  clinical record only.")
    for body in texts:
        file = tmp_path / "photo.txt"
        file.write_text(body, encoding="utf-8")
        assert run("--as", admin, "consents", "template", "add", "photo", str(file))[0] == 0
    code, out, _ = run("consents", "template", "list")
    assert [line.split()[:2] for line in out.splitlines()] == [["photo", "v1"], ["photo", "v2"]]
    assert run("consents", "template", "show", "photo", "--version", "1") == (
        0,
        texts[0] + "\n",
        "",
    )
    assert run("consents", "template", "show", "photo")[1] == texts[1] + "\n"
    assert run("consents", "template", "show", "photo", "--version", "3")[2] == (
        "error: no photo consent text version 3\n"
    )

    code, out, err = run("consents", "open", patient, "--kind", "photo")
    assert (code, err) == (0, "")
    assert re.fullmatch(f"opened consent {UUID} \\(photo, not signed\\)\n", out)
    consent = first_id(out)
    code, out, _ = run("consents", "list", patient)
    assert code == 0
    assert out.startswith(f"{consent}  photo v2  opened ")
    assert "  opened, not signed  scopes: none granted\n" in out
    before = written(engine)
    code, out, err = run("consents", "withdraw", consent, "--reason", "changed mind")
    assert (code, out, err) == (
        2,
        "",
        f"error: consent {consent} was opened, never signed: nothing to withdraw\n",
    )
    assert written(engine) == before

    file = tmp_path / "signed.yaml"
    signed_at = dt.datetime.now(dt.UTC).isoformat()
    file.write_text(
        f"patient: {patient}\nconsent: {consent}\nsigned_at: '{signed_at}'\n"
        "signer: Claire Moreau\nsignature: C. Moreau\n"
        "scopes: {clinical_record: true, teaching: false, marketing: true}\n",
        encoding="utf-8",
    )
    assert run("consents", "sign", str(file)) == (
        0,
        f"recorded consent {consent} (photo, signed)\n",
        "",
    )
    before = written(engine)
    code, out, err = run("consents", "sign", str(file))
    assert (code, out, err) == (2, "", f"error: consent: {consent} is already signed\n")
    assert written(engine) == before
    assert run("consents", "withdraw", consent, "--scope", "marketing", "--reason", "no")[0] == 0

    code, out, _ = run("consents", "list", patient)
    assert code == 0
    [line] = out.splitlines()
    parts = line.split("  ")
    assert parts[:2] == [consent, "photo v2"]
    signed = dt.datetime.fromisoformat(signed_at).isoformat(timespec="seconds")
    assert parts[3] == f"signed {signed} by Claire Moreau"
    assert parts[4] == "scopes: clinical_record, marketing"
    assert parts[5].startswith("withdrawn marketing ")
    assert parts[5].endswith(": no")
    code, out, _ = run("patients", "show", patient)
    assert out.splitlines()[-2:] == ["consents (1)", f"  {line}"]
    code, out, _ = run("patients", "show", patient, "--format", "json")
    [shown] = json.loads(out)["consents"]
    assert (shown["id"], shown["version"], shown["status"]) == (consent, 2, "signed")
    assert [w["scope"] for w in shown["withdrawn"]] == ["marketing"]
    with transaction(engine, write=False) as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions.count("consent.list") == 4  # two lists and two shows: every read audited
    assert [a for a in actions if a in ("consent.open", "consent.sign")] == [
        "consent.open",
        "consent.sign",
    ]


def test_reception_handles_consents_at_the_desk_and_only_an_admin_publishes_texts(
    database: str, engine: Engine, admin: str, reception: str, tmp_path: Path
) -> None:
    text = tmp_path / "photo.txt"
    text.write_text("I agree to photographs being taken.\n", encoding="utf-8")
    before = written(engine)
    for member in (reception, None):  # None: the practitioner acting
        acting = ("--as", member) if member else ()
        code, out, err = run(*acting, "consents", "template", "add", "photo", str(text))
        assert (code, out) == (2, "")
        assert "consents publish: " in err
        assert "may not; it needs admin" in err
    assert written(engine) == before
    assert run("--as", admin, "consents", "template", "add", "photo", str(text))[0] == 0

    desk = ("--as", reception)
    code, out, err = run(*desk, "consents", "template", "list")
    assert (code, err) == (0, "")
    assert out.startswith("photo v1  published ")
    assert run(*desk, "consents", "template", "show", "photo")[1] == text.read_text()
    code, out, err = run(*desk, "patients", "add", "--family-name", "Moreau")
    assert code == 0, err
    patient = first_id(out)
    code, out, err = run(*desk, "consents", "open", patient, "--kind", "photo")
    assert (code, err) == (0, "")
    consent = first_id(out)
    file = tmp_path / "signed.yaml"
    file.write_text(
        f"patient: {patient}\nconsent: {consent}\n"
        f"signed_at: '{dt.datetime.now(dt.UTC).isoformat()}'\n"
        "signer: Claire Moreau\nsignature: C. Moreau\n"
        "scopes: {clinical_record: true, teaching: false, marketing: false}\n",
        encoding="utf-8",
    )
    assert run(*desk, "consents", "sign", str(file))[0] == 0
    code, out, _ = run(*desk, "consents", "list", patient)
    assert (code, out.split("  ")[0]) == (0, consent)
    assert run(*desk, "consents", "withdraw", consent, "--reason", "changed mind")[0] == 0
    code, out, err = run(*desk, "patients", "show", patient)  # the chart is clinical
    assert (code, out) == (2, "")
    assert "(reception) may not" in err
