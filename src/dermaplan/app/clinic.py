"""The clinic itself: its name and its time zone, which says what day it is there."""

from __future__ import annotations

import uuid

from dermaplan.app.principal import ADMIN, EVERYONE, Access, allowed
from dermaplan.app.reads import ReadModel
from dermaplan.app.unit import UnitOfWork


class ClinicView(ReadModel):
    id: uuid.UUID
    name: str
    time_zone: str


@allowed(*EVERYONE, access=Access.READ)
def show(uow: UnitOfWork) -> ClinicView:
    from dermaplan.records.errors import required
    from dermaplan.records.models import Clinic

    clinic = required(uow.session.get(Clinic, uow.clinic_id), f"no clinic {uow.clinic_id}")
    return ClinicView.model_validate(clinic)


class ClinicSettings(ReadModel):
    """The clinic as its admin sets it, with the time zones it may choose from."""

    clinic: ClinicView
    time_zones: list[str]


@allowed(ADMIN, access=Access.READ)
def settings(uow: UnitOfWork) -> ClinicSettings:
    from dermaplan.records.clinics import known_zones

    return ClinicSettings(clinic=show(uow), time_zones=list(known_zones()))


@allowed(ADMIN)
def configure(
    uow: UnitOfWork, *, name: str | None = None, time_zone: str | None = None
) -> ClinicView:
    """Rename the clinic or set its IANA time zone (audited)."""
    from dermaplan.records.service import configure_clinic

    clinic = configure_clinic(
        uow.session, uow.context, uow.clinic_id, name=name, time_zone=time_zone
    )
    return ClinicView.model_validate(clinic)
