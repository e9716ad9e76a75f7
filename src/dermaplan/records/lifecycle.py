"""What consults, treatment sessions, adverse events and courses share: every change audited
with the record's whole state before and after (marking a version superseded by its
correction included), and a frozen record refused with its own message.

Services never commit (see records.service).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.context import Context
from dermaplan.records.errors import ImmutableRecord, InvalidInput, given_text


class PatientRecord(Protocol):
    """A patient's record that moves through states and is stamped when it changes."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def patient_id(self) -> uuid.UUID: ...

    @property
    def status(self) -> StrEnum: ...

    updated_at: dt.datetime


R = TypeVar("R", bound=PatientRecord)


@dataclass(frozen=True, slots=True)
class RecordKind(Generic[R]):
    """One kind of record: its name in the audit trail and in messages, the state its
    audit events digest, what to do instead of changing a frozen one, and the command that
    does it (`{id}`: the record's)."""

    record_type: str
    noun: str
    state: Callable[[R], dict[str, Any]]
    remedy: str | None = None
    hint: str | None = None

    def audit(
        self,
        session: Session,
        context: Context,
        clinic_id: uuid.UUID,
        action: AuditAction,
        record: R,
        before: dict[str, Any] | None = None,
    ) -> None:
        """The audit event of a record, with its state before (if it changed) and now."""
        record_event(
            session,
            context,
            clinic_id,
            action,
            self.record_type,
            record.id,
            patient_id=record.patient_id,
            before=before,
            after=self.state(record),
        )

    @contextmanager
    def change(
        self,
        session: Session,
        context: Context,
        clinic_id: uuid.UUID,
        action: AuditAction,
        record: R,
    ) -> Iterator[None]:
        """Stage the change the `with` block makes, stamped and audited against the state
        before it; a block that raises is not audited."""
        before = self.state(record)
        yield
        record.updated_at = context.now
        session.flush()
        self.audit(session, context, clinic_id, action, record, before)

    def frozen(self, record: R) -> ImmutableRecord:
        """The refusal to change a record past the state that allows it."""
        return ImmutableRecord(
            [
                f"{self.noun} {record.id} is {record.status.value} and cannot change"
                + (f"; {self.remedy}" if self.remedy else "")
            ],
            self.hint.format(id=record.id) if self.hint else None,
        )


def written_reason(reason: str, change: str) -> str:
    """The reason a change must be given, trimmed; a blank one is refused, and one that is
    not a line of text."""
    written = given_text(reason, "reason")
    if not written:
        raise InvalidInput.one(f"reason: {change} needs a reason")
    return written
