"""The demo clinic: an empty database filled with staff, patients, consults made by the
engine, courses, sessions with product lots, outcome scores and adverse events, every one of
them through the record services and audited. Like `restore`, it takes the application
rather than a unit: it makes the clinic and the staff anyone would act as, so nobody acts
in it yet, and it refuses a database that already has patients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import Application
from dermaplan.records.enums import StaffRole


class DemoMember(ReadModel):
    name: str
    role: StaffRole
    login: str  # for the web app, with `password`
    password: str
    totp_secret: str | None  # the second factor's, where they have one


class DemoSeeded(ReadModel):
    staff: int
    patients: int
    consults: int
    courses: int
    sessions: int
    lots: int
    outcomes: int
    adverse_events: int
    members: list[DemoMember]  # the demo clinic's staff: to act as (--as NAME), to sign in as


def seed(
    application: Application,
    patients: int,
    seed: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoSeeded:
    """`patients` demo patients (about three sessions each); the same `seed` gives the same
    clinic. `progress` hears of each patient stored."""
    from dermaplan.knowledge import load_knowledge
    from dermaplan.records import demo
    from dermaplan.records.context import Context

    report = progress or (lambda stage, done, total: None)
    context = Context(actor=application.settings.actor, now=application.clock())
    clinic = demo.DemoClinic(
        load_knowledge(),
        seed=seed,
        patients=patients,
        sessions=demo.SESSIONS_PER_PATIENT * patients,
        today=context.now.date(),
    )
    counts = demo.seed(
        application.engine,
        context,
        clinic,
        application.photos,
        lambda done: report("seeding the demo clinic: patients", done, patients),
    )
    members = [
        DemoMember(
            name=member.name,
            role=member.role,
            login=member.login,
            password=demo.DEMO_PASSWORD,
            totp_secret=member.totp_secret,
        )
        for member in clinic.staff
    ]
    return DemoSeeded.model_validate(asdict(counts) | {"members": members})
