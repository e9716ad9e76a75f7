"""Signing in: staff credentials, login sessions, throttling and lockout, API tokens.

Passwords are hashed with argon2id (argon2-cffi's defaults, the second profile RFC 9106
recommends: 64 MiB, 3 passes) and a login name that does not exist is checked against a
stand-in hash, so a wrong name takes as long as a wrong password. The second factor is TOTP
(RFC 6238: 30-second steps, one step either side for clocks that drift), each step accepted
once. A session's cookie and an API token are random secrets of which the database keeps
only the SHA-256: a copy of the database opens no session.

A login name is locked for a while after a run of failures, whether or not a member has
it, so a lockout says nothing about who exists; an address that fails too often is
throttled whatever names it tries.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from dermaplan.records.audit import AuditAction, canonical_json, record_event
from dermaplan.records.context import Context
from dermaplan.records.errors import DatabaseError, InvalidInput, NotFound, required
from dermaplan.records.keyring import AuditKey, session_keyring
from dermaplan.records.models import ApiToken, LoginAttempt, LoginSession, StaffCredential, new_id
from dermaplan.records.repository import ApiTokenRepository, LoginRepository, StaffRepository

IDLE = dt.timedelta(minutes=30)  # a session unused this long has ended
ABSOLUTE = dt.timedelta(hours=12)  # and any session this long after its login
CODE_WAIT = dt.timedelta(minutes=5)  # from a right password to its second factor
SEEN_EVERY = dt.timedelta(minutes=1)  # a session's last use is written at most this often
FAILURES_BEFORE_LOCK = 5  # failures of one login name within LOCK_WINDOW lock it
LOCK_WINDOW = dt.timedelta(minutes=15)
ADDRESS_FAILURES = 50  # failures from one address within LOCK_WINDOW throttle it
ATTEMPTS_KEPT = dt.timedelta(days=1)
PASSWORD_MIN, PASSWORD_MAX = 12, 256  # characters (ASVS 2.1.1, 2.1.2); no composition rules
PASSWORD_SCORE = 3  # zxcvbn's: at least 10^8 guesses, safe against throttled online guessing
PASSWORD_JUDGED = 100  # characters zxcvbn looks at
TOTP_SEALED = "aesgcm1"  # the mark of a sealed TOTP secret: see seal_totp
TOTP_NONCE_BYTES = 12
TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX = 90, 365
TOKEN_PREFIX = "dpat_"  # noqa: S105 (a marker, not a secret): marks a Dermaplan personal access token wherever it is pasted
TOTP_STEP_SECONDS = 30
LOGIN = re.compile(r"[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?")


def login_key(text: str) -> str:
    """A login name as it is compared and stored: NFKC, trimmed, case folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def default_login(name: str) -> str:
    """A login name made from a member's name: its letters and digits without accents,
    words joined by dots ("Dr Hélène Caron" is "dr.helene.caron")."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return ".".join(re.findall(r"[a-z0-9]+", plain))[:64].strip(".")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def credential_state(credential: StaffCredential) -> dict[str, Any]:
    """What a credential's audited events digest: whatever lets someone sign in as its
    member (the TOTP secret by its SHA-256 only). Not the last TOTP step, which every
    code accepted moves."""
    secret = credential.totp_secret
    return {
        "staff_id": credential.staff_id,
        "login": credential.login,
        "password_hash": credential.password_hash,
        "totp": None if secret is None else secret_hash(secret),
    }


def api_token_state(token: ApiToken) -> dict[str, Any]:
    """What a token's audited events digest: whose it is, in which clinic, its secret's
    hash, how long it lasts and whether it is revoked. Not its last use."""
    return {
        "staff_id": token.staff_id,
        "clinic_id": token.clinic_id,
        "name": token.name,
        "token_hash": token.token_hash,
        "prefix": token.prefix,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.cache
def _stand_in() -> str:
    """The hash a login name nobody has is checked against: the same work as a real one."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str, known: Sequence[str] = ()) -> str:
    """The argon2id hash of an acceptable password; InvalidInput at `password` otherwise.

    Acceptable is long enough and not among the first guesses of an attacker (ASVS 2.1.7):
    zxcvbn's lists of passwords from breaches, common words and names, keyboard runs,
    repeats, dates, and the words in `known` (the member's name, their login)."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput.one(
            f"password: needs {PASSWORD_MIN} to {PASSWORD_MAX} characters "
            f"(it has {len(password)}); a few words make a long one easy to remember"
        )
    from zxcvbn import zxcvbn  # its word lists take a moment to load: only when needed

    # its matching grows with the square of the length; the first characters tell enough
    strength = zxcvbn(password[:PASSWORD_JUDGED], user_inputs=[*known, "dermaplan"])
    if strength["score"] < PASSWORD_SCORE:
        why = strength["feedback"]["warning"] or "It would be among the first guesses tried."
        raise InvalidInput.one(
            f"password: too easy to guess — {why.rstrip('.').lower()}; a few unrelated "
            "words make a strong one that is easy to remember"
        )
    return rehash(password)


def rehash(password: str) -> str:
    """The argon2id hash of a password already accepted, with today's parameters."""
    return _hasher().hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` was made from; with nothing stored, the same
    work is done and the answer is no."""
    try:
        return _hasher().verify(stored or _stand_in(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(stored)


# -- credentials ------------------------------------------------------------------------


def credential_named(session: Session, login: str) -> StaffCredential | None:
    """The credential of the active member with this login name (`login_key`'s form)."""
    return LoginRepository(session).credential_named(login)


def credential_of(session: Session, staff_id: uuid.UUID) -> StaffCredential | None:
    return LoginRepository(session).credential(staff_id)


def set_password(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    staff_id: uuid.UUID,
    password: str,
    login: str | None = None,
) -> StaffCredential:
    """Give a member of the clinic a password (and a login name: `login`, the one they
    have, or one made from their name). Their open sessions end and their API tokens are
    revoked: whoever knew the old password, or held what it gave, is out. Audited by a
    digest of the credential, never the password."""
    member = required(StaffRepository(session, clinic_id).get(staff_id), f"no staff {staff_id}")
    # the name whole and word by word: "Ana Lima" and "lima2026" are both near guesses
    words = re.findall(r"\w+", f"{member.name} {login or ''}")
    hashed = hash_password(password, known=[member.name, *words])
    return store_credential(session, context, clinic_id, staff_id, hashed, login)


def store_credential(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    staff_id: uuid.UUID,
    password_hash: str,
    login: str | None = None,
) -> StaffCredential:
    """`set_password` with the password hashed already (`hash_password`)."""
    member = required(StaffRepository(session, clinic_id).get(staff_id), f"no staff {staff_id}")
    logins = LoginRepository(session)
    credential = logins.credential(staff_id)
    name = login_key(login) if login else credential.login if credential else ""
    name = name or default_login(member.name)
    if not LOGIN.fullmatch(name):
        raise InvalidInput.one(
            f"login: '{name}' is not a login name (1 to 64 of a-z, 0-9, '.', '_', '@', '-', "
            "starting and ending with a letter or digit)"
        )
    if logins.login_taken(name, staff_id):
        raise InvalidInput.one(f"login: '{name}' is another member's; choose another")
    if credential is None:
        credential = StaffCredential(
            staff_id=staff_id, login=name, password_hash=password_hash, created_at=context.now
        )
        session.add(credential)
    credential.login, credential.password_hash = name, password_hash
    credential.updated_at = context.now
    session.flush()
    end_access(session, context, clinic_id, staff_id, "password")
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.STAFF_PASSWORD,
        "staff_credential",
        staff_id,
        after=credential_state(credential),
    )
    return credential


def rehash_credential(
    session: Session, context: Context, credential: StaffCredential, password: str
) -> None:
    """Hash a right password again with today's parameters; audited like any new hash, so
    that the credential still matches its last event."""
    credential.password_hash = rehash(password)
    credential.updated_at = context.now
    session.flush()
    record_event(
        session,
        context,
        credential.staff.clinic_id,
        AuditAction.STAFF_PASSWORD,
        "staff_credential",
        credential.staff_id,
        after=credential_state(credential),
    )


def enrol_totp(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    staff_id: uuid.UUID,
    secret: str | None = None,
) -> tuple[StaffCredential, str]:
    """Give a member a new TOTP secret (a random one unless `secret` is given): from now on
    they sign in with a code from it; their sessions end and their tokens are revoked. They
    need a password first. Returns the credential and the secret in clear, to show once."""
    required(StaffRepository(session, clinic_id).get(staff_id), f"no staff {staff_id}")
    credential = LoginRepository(session).credential(staff_id)
    if credential is None:
        raise InvalidInput.one("totp: this member has no password yet; set one first")
    secret = secret or pyotp.random_base32()
    credential.totp_secret = seal_totp(session, staff_id, secret)
    credential.totp_last_step = None
    credential.updated_at = context.now
    session.flush()
    end_access(session, context, clinic_id, staff_id, "totp")
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.STAFF_TOTP,
        "staff_credential",
        staff_id,
        after=credential_state(credential),
    )
    return credential, secret


def seal_totp(session: Session, staff_id: uuid.UUID, secret: str) -> str:
    """A TOTP secret as it is stored: encrypted (AES-256-GCM) under a key derived from the
    audit keyring's current key, which is kept outside the database, and bound to its
    member, so a copy of the database alone gives nobody a second factor, and a sealed
    secret moved to another member's row does not open."""
    key = session_keyring(session).signing_key()
    nonce = secrets.token_bytes(TOTP_NONCE_BYTES)
    sealed = AESGCM(_totp_key(key)).encrypt(nonce, secret.encode("ascii"), staff_id.bytes)
    return f"{TOTP_SEALED}:{key.id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def totp_secret(session: Session, credential: StaffCredential) -> str | None:
    """The member's TOTP secret in clear, to check a code or show it once at enrolment.
    A secret enrolled before secrets were sealed is stored in clear, and read as it is
    until the member is given a new one."""
    stored = credential.totp_secret
    if stored is None or not stored.startswith(f"{TOTP_SEALED}:"):
        return stored
    _, key_id, body = stored.split(":", 2)
    key = session_keyring(session).key(key_id)
    if key is None:
        raise DatabaseError(
            f"the second factor of login '{credential.login}' was sealed with audit key "
            f"{key_id}, which the keyring does not hold; give the member a new one "
            "(dermaplan staff totp)"
        )
    try:
        raw = base64.urlsafe_b64decode(body)
        nonce, sealed = raw[:TOTP_NONCE_BYTES], raw[TOTP_NONCE_BYTES:]
        opened = AESGCM(_totp_key(key)).decrypt(nonce, sealed, credential.staff_id.bytes)
    except (InvalidTag, binascii.Error, ValueError):
        raise DatabaseError(
            f"the second factor of login '{credential.login}' has been altered and cannot "
            "be read; run dermaplan audit verify, and give the member a new one"
        ) from None
    return opened.decode("ascii")


def _totp_key(key: AuditKey) -> bytes:
    derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dermaplan.totp_secret")
    return derive.derive(key.secret)


def accept_code(
    credential: StaffCredential, secret: str | None, code: str, now: dt.datetime
) -> bool:
    """Whether `code` is the member's TOTP code for now (or the step either side) from
    `secret` (`totp_secret`) and was not accepted before; the step it matched is
    remembered."""
    typed = "".join(code.split())
    if secret is None or not re.fullmatch(r"[0-9]{6}", typed):
        return False
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // TOTP_STEP_SECONDS
    for candidate in (step - 1, step, step + 1):
        if candidate <= (credential.totp_last_step or -1):
            continue
        expected = totp.at(candidate * TOTP_STEP_SECONDS)
        if hmac.compare_digest(expected, typed):
            credential.totp_last_step = candidate
            return True
    return False


# -- throttling -------------------------------------------------------------------------


def lockout(session: Session, login: str, address: str | None, now: dt.datetime) -> str | None:
    """Why no attempt is taken now for this login name or from this address, if so."""
    logins = LoginRepository(session)
    failures = logins.failures(now - LOCK_WINDOW, login=login)
    if len(failures) >= FAILURES_BEFORE_LOCK:
        until = failures[FAILURES_BEFORE_LOCK - 1] + LOCK_WINDOW
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        return (
            f"too many failed attempts for this login; try again in {minutes} "
            f"minute{'s' if minutes > 1 else ''}"
        )
    throttled = address is not None and logins.failures(now - LOCK_WINDOW, address=address)
    if throttled and len(throttled) >= ADDRESS_FAILURES:
        return "too many failed attempts from this address; try again later"
    return None


def record_attempt(
    session: Session, login: str, address: str | None, now: dt.datetime, *, succeeded: bool
) -> None:
    """Count an attempt (and forget those older than a day)."""
    logins = LoginRepository(session)
    logins.forget_attempts(now - ATTEMPTS_KEPT)
    logins.add(
        LoginAttempt(id=new_id(), login=login[:64], address=address, at=now, succeeded=succeeded)
    )


# -- sessions ---------------------------------------------------------------------------


def open_session(
    session: Session,
    context: Context,
    credential: StaffCredential,
    address: str | None,
    *,
    awaiting_code: bool,
) -> tuple[LoginSession, str]:
    """A new session and the token for its cookie (a complete one is audited as a login)."""
    token = secrets.token_urlsafe(32)
    member = credential.staff
    opened = LoginSession(
        id=new_id(),
        token_hash=secret_hash(token),
        staff_id=member.id,
        clinic_id=member.clinic_id,
        awaiting_code=awaiting_code,
        csrf_token=secrets.token_urlsafe(32),
        address=address,
        started_at=context.now,
        last_seen_at=context.now,
    )
    key = session_keyring(session).signing_key()
    opened.key_id, opened.mac = key.id, session_mac(key, opened)
    LoginRepository(session).add(opened)
    if not awaiting_code:
        record_event(
            session,
            context,
            member.clinic_id,
            AuditAction.STAFF_LOGIN,
            "login_session",
            opened.id,
            after={"login": credential.login, "second_factor": credential.totp_secret is not None},
        )
    return opened, token


def session_mac(key: AuditKey, opened: LoginSession) -> str:
    """The HMAC under the audit key of what makes a session: its token's hash, its member
    and clinic, whether it awaits a code, and its start (so that its 12 hours hold). Whoever
    can only write the database cannot make a session for anyone, nor move one to another
    member."""
    return key.sign(
        canonical_json(
            [
                "login_session",
                opened.id,
                opened.token_hash,
                opened.staff_id,
                opened.clinic_id,
                opened.awaiting_code,
                opened.started_at,
            ]
        )
    )


def find_session(session: Session, token: str) -> LoginSession | None:
    """The session the token opens, if its row is the one Dermaplan signed; a row written
    or edited behind its back (no key, another key, another HMAC) opens nothing."""
    found = LoginRepository(session).login_session(secret_hash(token))
    if found is None or found.key_id is None or found.mac is None:
        return None
    key = session_keyring(session).key(found.key_id)
    if key is None or not hmac.compare_digest(found.mac, session_mac(key, found)):
        return None
    return found


def ended(found: LoginSession, now: dt.datetime) -> str | None:
    """Why a session can no longer be used, if it cannot."""
    if found.ended_at is not None:
        return "the session has ended; sign in again"
    if found.awaiting_code and now - found.started_at > CODE_WAIT:
        return "the code was not given in time; sign in again"
    if now - found.last_seen_at > IDLE:
        return "the session ended after 30 minutes without use; sign in again"
    if now - found.started_at > ABSOLUTE:
        return "the session ended 12 hours after its login; sign in again"
    return None


def seen(found: LoginSession, now: dt.datetime) -> bool:
    """Note the session's use, at most once a minute; whether anything changed."""
    if now - found.last_seen_at < SEEN_EVERY:
        return False
    found.last_seen_at = now
    return True


def end_session(session: Session, context: Context, found: LoginSession, reason: str) -> None:
    """End a session; a logout of a signed-in member is audited."""
    if found.ended_at is not None:
        return
    _end(found, context.now, reason)
    session.flush()
    if reason == "logout" and not found.awaiting_code:
        record_event(
            session,
            context,
            found.clinic_id,
            AuditAction.STAFF_LOGOUT,
            "login_session",
            found.id,
        )


def _end(found: LoginSession, now: dt.datetime, reason: str) -> None:
    found.ended_at, found.end_reason = now, reason


# -- API tokens -------------------------------------------------------------------------


def create_token(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    staff_id: uuid.UUID,
    name: str,
    days: int = TOKEN_DAYS_DEFAULT,
) -> tuple[ApiToken, str]:
    """A new token of the member, valid `days`, and its secret (shown once, never stored)."""
    label = " ".join(name.split())
    problems = []
    if not 1 <= len(label) <= 100:
        problems.append("name: say what the token is for, in 1 to 100 characters")
    if not 1 <= days <= TOKEN_DAYS_MAX:
        problems.append(f"days: a token lasts 1 to {TOKEN_DAYS_MAX} days")
    if problems:
        raise InvalidInput(problems)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id=new_id(),
        staff_id=staff_id,
        clinic_id=clinic_id,
        name=label,
        token_hash=secret_hash(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_at=context.now,
        expires_at=context.now + dt.timedelta(days=days),
    )
    ApiTokenRepository(session).add(token)
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.API_TOKEN_CREATE,
        "api_token",
        token.id,
        after=api_token_state(token),
    )
    return token, secret


def tokens_of(session: Session, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Sequence[ApiToken]:
    return ApiTokenRepository(session).of_member(clinic_id, staff_id)


def clinic_tokens(session: Session, clinic_id: uuid.UUID) -> Sequence[ApiToken]:
    """Every token of the clinic's members, newest first (an admin's view)."""
    return ApiTokenRepository(session).of_clinic(clinic_id)


def revoke_token(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    staff_id: uuid.UUID,
    token_id: uuid.UUID,
) -> ApiToken:
    """Revoke one of the member's own tokens (revoking one twice changes nothing)."""
    token = ApiTokenRepository(session).get(clinic_id, token_id)
    if token is None or token.staff_id != staff_id:
        raise NotFound.one(f"no token {token_id} of yours")
    return _revoked(session, context, clinic_id, token)


def revoke_any_token(
    session: Session, context: Context, clinic_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken:
    """Revoke any member's token of the clinic (an admin's act; the use case checks it)."""
    token = ApiTokenRepository(session).get(clinic_id, token_id)
    if token is None:
        raise NotFound.one(f"no token {token_id}")
    return _revoked(session, context, clinic_id, token)


def _revoked(session: Session, context: Context, clinic_id: uuid.UUID, token: ApiToken) -> ApiToken:
    """The token revoked now, audited; one revoked already is left as it is."""
    if token.revoked_at is None:
        token.revoked_at = context.now
        session.flush()
        record_event(
            session,
            context,
            clinic_id,
            AuditAction.API_TOKEN_REVOKE,
            "api_token",
            token.id,
            after=api_token_state(token),
        )
    return token


def end_access(
    session: Session, context: Context, clinic_id: uuid.UUID, staff_id: uuid.UUID, reason: str
) -> None:
    """End every open session of the member and revoke each of their live tokens (each
    revocation audited): what a member who leaves, or whose device is lost, must lose."""
    for open_session in LoginRepository(session).open_sessions(staff_id):
        _end(open_session, context.now, reason)
    for token in ApiTokenRepository(session).of_member(clinic_id, staff_id):
        _revoked(session, context, clinic_id, token)
    session.flush()


def token_holder(session: Session, secret: str, now: dt.datetime) -> ApiToken | None:
    """The live token with this secret (not revoked, not expired); its use is noted at
    most once a minute."""
    token = ApiTokenRepository(session).by_hash(secret_hash(secret))
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    return token


def token_seen(token: ApiToken, now: dt.datetime) -> bool:
    if token.last_used_at is not None and now - token.last_used_at < SEEN_EVERY:
        return False
    token.last_used_at = now
    return True
