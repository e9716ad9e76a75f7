"""Who is asking, for front ends that cannot trust the operating system: a member signs in
with a login name, a password and, where they have one, a TOTP code (an admin always
does); a browser then holds a session, and a program a personal API token. Each front end
establishes the member here, then runs the request's use case acting as them.

Signing in takes the application, not a unit: nobody acts yet. A password is compared
outside any transaction (argon2 takes a tenth of a second on purpose), and a failed
attempt is written before the refusal is raised, so that throttling and lockout count it
(records.logins).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from dermaplan.app.principal import (
    ADMIN,
    EVERYONE,
    USE_CASES,
    Access,
    Proof,
    allowed,
    refusal_of,
)
from dermaplan.app.reads import ReadModel
from dermaplan.app.staff import member_named
from dermaplan.app.unit import Application, UnitOfWork
from dermaplan.records.enums import StaffRole
from dermaplan.records.errors import Forbidden, InvalidInput, Unauthenticated

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dermaplan.records.context import Context
    from dermaplan.records.models import ApiToken, LoginSession, Staff, StaffCredential

WRONG = "the login name or the password is wrong"
NO_SESSION = "you are not signed in; sign in first"
NO_TOKEN = "no valid API token: give 'Authorization: Bearer TOKEN'"  # noqa: S105 (a message)


class Member(ReadModel):
    """The member a session or token acts as."""

    staff_id: uuid.UUID
    name: str
    role: StaffRole

    def may(self, use_case: str) -> bool:
        """Whether their role may call the use case "module.function" (what a front end
        offers them; the use case itself refuses anyone else)."""
        return self.role in USE_CASES.get(use_case, frozenset())

    def permit(self, use_case: str) -> None:
        """Refuse them (Forbidden, in the use case's words) unless their role may call the
        use case: for a front end about to check what they sent for it, which a member
        who may not call it is never told about."""
        if not self.may(use_case):
            permitted = USE_CASES.get(use_case, frozenset())
            raise refusal_of(self.name, frozenset({self.role}), permitted, use_case)


class BrowserSession(ReadModel):
    member: Member
    csrf_token: str  # what every form and request that changes anything carries


class LoginStep(ReadModel):
    """A session just opened: its token (for the cookie, never stored), its CSRF token,
    and whether a TOTP code is asked next (the session is of no use until it is given)."""

    token: str
    csrf_token: str
    awaiting_code: bool


def sign_in(
    application: Application,
    login: str,
    password: str,
    address: str | None,
    replacing: str | None = None,
) -> LoginStep:
    """A new session for the member with this login name and password, and the end of the
    session the browser held (`replacing`, its token), if any: a login never keeps a
    session id. Unauthenticated with one message for a wrong name and a wrong password."""
    from dermaplan.records import logins
    from dermaplan.records.db import transaction

    now = application.clock()
    key = logins.login_key(login)[:64]
    with transaction(application.engine, write=False) as session:
        refusal = logins.lockout(session, key, address, now)
        credential = logins.credential_named(session, key)
        stored = credential.password_hash if credential is not None else None
    if refusal is not None:
        raise Unauthenticated.one(refusal)
    right = logins.password_matches(stored, password)
    step = None
    with transaction(application.engine) as session:
        credential = logins.credential_named(session, key) if right else None
        if credential is None or credential.totp_secret is None:
            # a right password with a code to come is no success yet: it leaves the
            # count of failures as it is, so that wrong codes add up whatever it says
            logins.record_attempt(session, key, address, now, succeeded=right)
        previous = logins.find_session(session, replacing) if right and replacing else None
        if previous is not None:
            logins.end_session(
                session, _context(application, now, None, previous.staff_id), previous, "rotated"
            )
        if credential is not None:
            if credential.staff.role is StaffRole.ADMIN and credential.totp_secret is None:
                refusal = (
                    "an admin signs in with a second factor: enrol one first "
                    f"(dermaplan staff totp '{credential.staff.name}')"
                )
            else:
                context = _context(application, now, credential.staff)
                if logins.needs_rehash(credential.password_hash):
                    logins.rehash_credential(session, context, credential, password)
                step = _open(
                    session,
                    context,
                    credential,
                    address,
                    awaiting_code=credential.totp_secret is not None,
                )
    if step is None:
        raise Unauthenticated.one(refusal or WRONG)
    return step


def second_factor(
    application: Application, token: str, code: str, address: str | None
) -> LoginStep:
    """The session awaiting a code replaced by a signed-in one (a new token: the session
    id changes at login), if the code is right and new. Wrong codes count as failed
    attempts of the login name; the one that locks it ends the session awaiting it."""
    from dermaplan.records import logins
    from dermaplan.records.db import transaction

    now = application.clock()
    step = None
    refusal: str | None = "the sign-in has expired; sign in again"
    with transaction(application.engine) as session:
        found = logins.find_session(session, token)
        credential = None
        if found is not None and found.awaiting_code and not logins.ended(found, now):
            credential = logins.credential_of(session, found.staff_id)
        if found is not None and credential is not None:
            context = _context(application, now, credential.staff)
            refusal = logins.lockout(session, credential.login, address, now)
            if refusal is None:
                secret = logins.totp_secret(session, credential)
                right = logins.accept_code(credential, secret, code, now)
                logins.record_attempt(session, credential.login, address, now, succeeded=right)
                refusal = None if right else logins.lockout(session, credential.login, address, now)
                if right:
                    logins.end_session(session, context, found, "rotated")
                    step = _open(session, context, credential, address, awaiting_code=False)
                elif refusal is None:
                    refusal = "the code is wrong, or was already used; try the next one"
                else:
                    logins.end_session(session, context, found, "locked")
    if step is None:
        raise Unauthenticated.one(refusal or NO_SESSION)
    return step


Held = TypeVar("Held", "LoginSession", "ApiToken")
Found = TypeVar("Found", BrowserSession, Member)


class CredentialCheck(Generic[Held, Found]):
    """A credential a request carries (a browser session, a personal API token), checked
    inside the unit of work of that request (it is the unit's `Identify`): the credential,
    its member and the use case read in one transaction. What it found is kept for the
    front end; the credential's use is noted at most once a minute, by the unit if it
    writes, else afterwards in a transaction of its own (`note_use`). Each kind says how
    its row is found, when it has closed, what is kept and where its use is noted."""

    refusal: ClassVar[str]  # for a request that carries no credential, or an unknown one
    proof: ClassVar[Proof]  # how the member it finds showed who they are

    def __init__(self) -> None:
        self.found: Found | None = None
        self.unnoted = False  # its use a minute old, found by a unit that writes nothing

    def __call__(self, session: Session, now: dt.datetime, writes: bool) -> Staff:
        """The member the credential acts as, its use noted if the unit writes;
        Unauthenticated if it opens nothing, or opens it for a member no longer active."""
        held = self.find(session, now)
        if held is None:
            raise Unauthenticated.one(self.refusal)
        why = self.closed(held, now)
        if why is not None:
            raise Unauthenticated.one(why)
        staff = _active(session, held.clinic_id, held.staff_id)
        self.found = self.kept(held, staff)
        if writes:
            self.note(held, now)
        self.unnoted = _stale(self.last_use(held), now)
        return staff

    def note_again(self, session: Session, now: dt.datetime) -> None:
        """Note the use the check found unnoted, in a transaction after the check's."""
        held = self.find(session, now)
        if held is not None:
            self.note(held, now)
        self.unnoted = False

    def checked(self) -> Found:
        """What the check found; Unauthenticated before it has run."""
        if self.found is None:
            raise Unauthenticated.one(self.refusal)
        return self.found

    def find(self, session: Session, now: dt.datetime) -> Held | None:
        raise NotImplementedError

    def closed(self, held: Held, now: dt.datetime) -> str | None:
        """Why the credential found opens nothing any more, if it does not."""
        return None

    def kept(self, held: Held, staff: Staff) -> Found:
        raise NotImplementedError

    def note(self, held: Held, now: dt.datetime) -> None:
        raise NotImplementedError

    def last_use(self, held: Held) -> dt.datetime | None:
        raise NotImplementedError


class SessionCheck(CredentialCheck["LoginSession", BrowserSession]):
    """A browser session's token; it opens nothing for a browser never signed in, awaiting
    its code, or whose session has ended, been idle 30 minutes, or is 12 hours old."""

    refusal = NO_SESSION
    proof = Proof.SESSION

    def __init__(self, token: str | None) -> None:
        super().__init__()
        self.token = token

    def find(self, session: Session, now: dt.datetime) -> LoginSession | None:
        from dermaplan.records.logins import find_session

        return find_session(session, self.token) if self.token else None

    def closed(self, held: LoginSession, now: dt.datetime) -> str | None:
        from dermaplan.records.logins import ended

        return NO_SESSION if held.awaiting_code else ended(held, now)

    def kept(self, held: LoginSession, staff: Staff) -> BrowserSession:
        return BrowserSession(member=_member(staff), csrf_token=held.csrf_token)

    def note(self, held: LoginSession, now: dt.datetime) -> None:
        from dermaplan.records.logins import seen

        seen(held, now)

    def last_use(self, held: LoginSession) -> dt.datetime:
        return held.last_seen_at

    @property
    def session(self) -> BrowserSession:
        return self.checked()


class TokenCheck(CredentialCheck["ApiToken", Member]):
    """A personal API token; it opens nothing if it is unknown, revoked or expired."""

    refusal = NO_TOKEN
    proof = Proof.TOKEN

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def find(self, session: Session, now: dt.datetime) -> ApiToken | None:
        from dermaplan.records.logins import token_holder

        return token_holder(session, self.secret, now)

    def kept(self, held: ApiToken, staff: Staff) -> Member:
        return _member(staff)

    def note(self, held: ApiToken, now: dt.datetime) -> None:
        from dermaplan.records.logins import token_seen

        token_seen(held, now)

    def last_use(self, held: ApiToken) -> dt.datetime | None:
        return held.last_used_at

    @property
    def member(self) -> Member:
        return self.checked()


class CheckedMember:
    """The member of a browser session this request has checked already (a page's change,
    its session and CSRF token checked before the form was read), acting as the session's
    member, by a session's proof."""

    proof = Proof.SESSION

    def __init__(self, member: Member) -> None:
        self.member = member

    def __call__(self, session: Session, now: dt.datetime, writes: bool, /) -> Staff:
        from dermaplan.records.repository import staff_named

        found = staff_named(session, str(self.member.staff_id))
        if len(found) != 1:
            raise Unauthenticated.one("this member of staff is no longer active")
        return found[0]


def _stale(last: dt.datetime | None, now: dt.datetime) -> bool:
    from dermaplan.records.logins import SEEN_EVERY

    return last is None or now - last >= SEEN_EVERY


def signed_in(application: Application, token: str | None) -> BrowserSession:
    """The session the token opens, checked in a transaction of its own (for a request
    that runs no use case, or must know it before one runs)."""
    check = SessionCheck(token)
    check_alone(application, check)
    return check.session


def check_alone(application: Application, check: SessionCheck | TokenCheck) -> None:
    """Run the check in a transaction of its own (writing nothing), then note the use it
    found unnoted."""
    from dermaplan.records.db import transaction

    with transaction(application.engine, write=False) as session:
        check(session, application.clock(), False)
    note_use(application, check)


def note_use(application: Application, check: SessionCheck | TokenCheck) -> None:
    """Note the use of a session or token that a unit writing nothing found unnoted for a
    minute (idle expiry counts from it), in a transaction of its own."""
    from dermaplan.records.db import transaction

    if not check.unnoted:
        return
    now = application.clock()
    with transaction(application.engine) as session:
        check.note_again(session, now)


def sign_out(application: Application, token: str | None) -> None:
    """End the session the token opens, if any (ending it twice is no error)."""
    from dermaplan.records import logins
    from dermaplan.records.db import transaction

    if not token:
        return
    with transaction(application.engine) as session:
        found = logins.find_session(session, token)
        if found is not None:
            context = _context(application, application.clock(), None, found.staff_id)
            logins.end_session(session, context, found, "logout")


def _active(session: Session, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff:
    from dermaplan.records.repository import StaffRepository

    staff = StaffRepository(session, clinic_id).get_with_clinic(staff_id)
    if staff is None or not staff.active:
        raise Unauthenticated.one("this member of staff is no longer active")
    return staff


def _member(staff: Staff) -> Member:
    return Member(staff_id=staff.id, name=staff.name, role=staff.role)


def _context(
    application: Application,
    now: dt.datetime,
    member: Staff | None,
    staff_id: uuid.UUID | None = None,
) -> Context:
    from dermaplan.records.context import Context

    return Context(
        actor=application.settings.actor,
        now=now,
        staff_id=member.id if member is not None else staff_id,
    )


def _open(
    session: Session,
    context: Context,
    credential: StaffCredential,
    address: str | None,
    *,
    awaiting_code: bool,
) -> LoginStep:
    from dermaplan.records import logins

    opened, token = logins.open_session(
        session, context, credential, address, awaiting_code=awaiting_code
    )
    return LoginStep(token=token, csrf_token=opened.csrf_token, awaiting_code=awaiting_code)


# -- use cases: credentials and tokens --------------------------------------------------


class Credentials(ReadModel):
    staff_id: uuid.UUID
    login: str


class TotpEnrolment(ReadModel):
    """A new second factor: the secret to type into an authenticator app, or the otpauth
    URI to turn into a QR code."""

    staff_id: uuid.UUID
    login: str
    secret: str
    uri: str


class TokenLine(ReadModel):
    id: uuid.UUID
    name: str
    prefix: str  # the secret's first characters, to tell tokens apart
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class MemberToken(ReadModel):
    """A token with the member it acts as."""

    member_id: uuid.UUID
    member: str
    token: TokenLine


class NewToken(ReadModel):
    """A token just made, with its secret: shown this once, never stored."""

    token: TokenLine
    secret: str


def _may_change_credentials(
    uow: UnitOfWork, staff_id: uuid.UUID, current_password: str | None
) -> None:
    """A password or a second factor changes only for whoever shows more than a stolen
    cookie or token would: never with an API token (one secret, which could otherwise make
    itself a member's for good); in a browser session, one's own only with the current
    password. An admin's session (two factors) changes another member's; the command line
    on the server acts for the operator, who holds the database."""
    from dermaplan.records.logins import credential_of, password_matches

    acting = uow.acting
    if acting.proof is Proof.TOKEN:
        raise Forbidden.one(
            "credentials: an API token cannot change a password or a second factor; "
            "sign in to the app to change them"
        )
    if acting.proof is Proof.SESSION and staff_id == acting.staff_id:
        credential = credential_of(uow.session, staff_id)
        stored = credential.password_hash if credential else None
        if not password_matches(stored, current_password or ""):
            raise InvalidInput.one(
                "current_password: not your current password; to change your own "
                "credentials, type the password you sign in with"
            )


@allowed(*EVERYONE)
def set_password(
    uow: UnitOfWork,
    member: str,
    password: str,
    login: str | None = None,
    current_password: str | None = None,
) -> Credentials:
    """Set a member's password (their own, with the current one in a browser session, or
    anyone's for an admin) and login name; the member's sessions end and their API tokens
    are revoked."""
    from dermaplan.records.logins import set_password as store

    staff_id = member_named(uow, member, "password")
    _may_change_credentials(uow, staff_id, current_password)
    credential = store(uow.session, uow.context, uow.clinic_id, staff_id, password, login)
    return Credentials(staff_id=staff_id, login=credential.login)


@allowed(*EVERYONE)
def enrol_totp(
    uow: UnitOfWork, member: str, secret: str | None = None, current_password: str | None = None
) -> TotpEnrolment:
    """Give a member (themself, with their password in a browser session, or anyone for an
    admin) a new TOTP second factor; their sessions end and their API tokens are revoked."""
    import pyotp

    from dermaplan.records.logins import enrol_totp as store

    staff_id = member_named(uow, member, "totp")
    _may_change_credentials(uow, staff_id, current_password)
    credential, secret = store(uow.session, uow.context, uow.clinic_id, staff_id, secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=credential.login, issuer_name="Dermaplan")
    return TotpEnrolment(staff_id=staff_id, login=credential.login, secret=secret, uri=uri)


@allowed(*EVERYONE)
def create_token(uow: UnitOfWork, name: str, days: int | None = None) -> NewToken:
    """A personal API token of the member acting, in their role, for `days` (90 unless
    given, at most 365); made by a member signed in, never by a token (which could then
    renew itself for good)."""
    from dermaplan.records.logins import TOKEN_DAYS_DEFAULT
    from dermaplan.records.logins import create_token as store

    if uow.acting.proof is Proof.TOKEN:
        raise Forbidden.one("tokens: an API token cannot make tokens; sign in to the app")

    made, secret = store(
        uow.session,
        uow.context,
        uow.clinic_id,
        uow.acting.staff_id,
        name,
        TOKEN_DAYS_DEFAULT if days is None else days,
    )
    return NewToken(token=TokenLine.model_validate(made), secret=secret)


@allowed(*EVERYONE, access=Access.READ)
def tokens(uow: UnitOfWork) -> list[TokenLine]:
    """The member's own tokens, newest first (revoked and expired ones included)."""
    from dermaplan.records.logins import tokens_of

    return [
        TokenLine.model_validate(token)
        for token in tokens_of(uow.session, uow.clinic_id, uow.acting.staff_id)
    ]


@allowed(*EVERYONE)
def revoke_token(uow: UnitOfWork, token_id: uuid.UUID) -> TokenLine:
    """Revoke one of the member's own tokens: it opens nothing from now on."""
    from dermaplan.records.logins import revoke_token as store

    revoked = store(uow.session, uow.context, uow.clinic_id, uow.acting.staff_id, token_id)
    return TokenLine.model_validate(revoked)


@allowed(ADMIN, access=Access.READ)
def clinic_tokens(uow: UnitOfWork) -> list[MemberToken]:
    """Every API token of the clinic's members with whose it is, newest first (revoked and
    expired ones included): what an admin looks through when a token may have leaked."""
    from dermaplan.records.logins import clinic_tokens as every_token
    from dermaplan.records.service import clinic_staff

    names = {member.id: member.name for member in clinic_staff(uow.session, uow.clinic_id)}
    return [
        MemberToken(
            member_id=token.staff_id,
            member=names[token.staff_id],
            token=TokenLine.model_validate(token),
        )
        for token in every_token(uow.session, uow.clinic_id)
    ]


@allowed(ADMIN)
def revoke_member_token(uow: UnitOfWork, token_id: uuid.UUID) -> TokenLine:
    """Revoke any member's token of the clinic (audited with the admin acting)."""
    from dermaplan.records.logins import revoke_any_token

    revoked = revoke_any_token(uow.session, uow.context, uow.clinic_id, token_id)
    return TokenLine.model_validate(revoked)
