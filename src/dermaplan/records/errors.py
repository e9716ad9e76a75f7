"""Errors a person can cause (exit code 2 at the CLI) and errors of the installation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self, TypeVar

from dermaplan.problems import Problem
from dermaplan.text import as_line, as_prose

T = TypeVar("T")


class RecordsError(Exception):
    """A problem with the request; `details` has each problem with its location, `problems`
    the same as one line each, for a person, and `hint` says what would let it through,
    where something would."""

    hint: str | None = None  # a kind's own, or one error's (given when raised)

    def __init__(self, problems: Sequence[str | Problem], hint: str | None = None) -> None:
        if hint is not None:
            self.hint = hint
        self.details = [p if isinstance(p, Problem) else Problem.of(p) for p in problems]
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))

    @classmethod
    def one(cls, problem: str) -> Self:
        return cls([problem])


class InvalidInput(RecordsError):
    """Input that does not validate; nothing was written."""


class RecordDisagrees(InvalidInput):
    """A consult's assessment or plan contradicts the patient's record; nothing was stored."""

    hint = (
        "correct the assessment, or the patient's record (`dermaplan patients update`), "
        "and consult again"
    )


class NotFound(RecordsError):
    """The record asked for does not exist (or is not this clinic's)."""


class ImmutableRecord(RecordsError):
    """An approved or superseded record was asked to change."""


class SafetyRefused(RecordsError):
    """A session that contradicts safety, recorded only under a practitioner's override."""

    hint = "to record it anyway, the practitioner gives a written reason: --override REASON"


class IncompleteRecord(RecordsError):
    """A session lacks something the completeness check asks for; signing needs a reason."""

    hint = "complete the record, or sign with a written reason: --reason REASON"


class DatabaseError(Exception):
    """The database cannot be used as it is: unreachable, unknown, or needs an upgrade."""


class BackupError(DatabaseError):
    """A backup or restore that cannot be done; nothing was changed."""


def required(record: T | None, message: str) -> T:
    """The record looked up, or NotFound with a message naming what was asked for."""
    if record is None:
        raise NotFound.one(message)
    return record


class Forbidden(RecordsError):
    """Who is acting may not do this: no member of staff named, or not in a role allowed."""


class Unauthenticated(RecordsError):
    """Who is asking is not established: a wrong login, a session that ended or expired, a
    token revoked. Nothing was read or changed."""


def given_text(value: str, field: str, *, prose: bool = False) -> str:
    """Text given outside an input model (a name, a reason, an area), trimmed, refused at
    `field` as an input model's `Line` (or `Prose`) would refuse it."""
    try:
        return (as_prose if prose else as_line)(value.strip())
    except ValueError as error:
        raise InvalidInput.one(f"{field}: {error}") from None
