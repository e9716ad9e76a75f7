"""A unit of work takes the locks its use case's access needs: a change holds its clinic's
change lane from before it reads anything, so concurrent changes keep the audit trail one
consistent story; an audited read takes a read lane only when it appends."""

from __future__ import annotations

import itertools
import threading

from sqlalchemy import Engine, select

from dermaplan.app import patients
from dermaplan.app.principal import ACCESS, Access, use_case_name
from dermaplan.app.unit import Application
from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.lanes import Chain, held
from dermaplan.records.models import AuditEvent
from tests.app.conftest import clinic_with_staff
from tests.records.factories import add_patient


def test_reads_are_declared_audited_reads_and_changes_changes() -> None:
    assert ACCESS[use_case_name(patients.chart)] is Access.AUDITED_READ
    assert ACCESS[use_case_name(patients.search)] is Access.AUDITED_READ
    assert ACCESS[use_case_name(patients.update)] is Access.CHANGE


def test_a_change_holds_the_change_lane_before_the_use_case_runs_a_read_no_lane(
    application: Application, engine: Engine
) -> None:
    clinic_id, members = clinic_with_staff(engine, "Parc")
    patient_id = add_patient(engine, clinic_id)
    acting = str(members[StaffRole.PRACTITIONER])
    with application.unit(acting) as uow:
        assert list(held(uow.session.connection())) == [Chain(clinic_id, 0)]
    with application.unit(acting, access=Access.AUDITED_READ) as uow:
        assert held(uow.session.connection()) == {}
        patients.chart(uow, patient_id)
        assert list(held(uow.session.connection())) == [Chain(clinic_id, 1)]


def test_concurrent_changes_keep_each_before_digest_the_last_after_digest(
    application: Application, engine: Engine
) -> None:
    clinic_id, members = clinic_with_staff(engine, "Parc")
    patient_id = add_patient(engine, clinic_id)
    acting = str(members[StaffRole.RECEPTION])
    values = {"phone": "+33 1 0{}", "email": "n{}@example.org"}
    assert application.engine is not None  # opened once, before the threads share it

    def update(field: str) -> None:
        for number in range(8):
            with application.unit(acting) as uow:
                patients.update(uow, patient_id, {field: values[field].format(number)})

    threads = [threading.Thread(target=update, args=(field,)) for field in ("phone", "email")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with transaction(engine, write=False) as session:
        changes = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == patient_id, AuditEvent.lane == 0)
            .order_by(AuditEvent.id)
        ).all()
    assert [event.action for event in changes] == ["patient.create"] + ["patient.update"] * 16
    assert all(
        later.before_digest == earlier.after_digest
        for earlier, later in itertools.pairwise(changes)
    )
