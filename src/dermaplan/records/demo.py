"""A realistic demo clinic, generated from a seed: the data of `dermaplan demo seed` and, at
larger sizes, of the records benchmark.

`DemoClinic` generates the clinic (staff, patients, consults made by the real engine,
treatment sessions with product lots and a before-photo of each treated area, outcome
scores, adverse events) as plain values, the same for the same seed, size and day. Every
before-photo is the same small placeholder image, so the storage holds one file. Two
loaders store it:

- `seed` goes through the record services, one record at a time: every rule is checked and
  every create has its audit event. It also starts a course from each approved plan that
  proceeds with the patient's treatment, before that treatment's sessions are recorded.
  For a demo of a few hundred patients.
- `bulk_load` inserts rows in large batches (SQLAlchemy Core executemany) in one
  transaction, for benchmark sizes (a million sessions). It writes no audit event per row:
  the clinic and its staff are created through the services (audited), one `demo.import`
  event records what was imported, with its counts, seed and size, and one
  `records.import` event per record type holds the rows' count and a keyed sum of their
  states (records.integrity.ImportTally), so `audit verify` still checks every row. It
  relies on the generator making only records the services would accept (safe, complete);
  the tests check both loaders agree. It loads no courses, outcomes or adverse events: the
  benchmark times the timeline of records made of sessions.

Either way every member of staff can sign in to the web app with the demo password and a
login made from their name; the admins and the first practitioner also have a TOTP second
factor, from a secret made from the seed. A demo clinic is for trying Dermaplan: its
credentials are printed and known to anyone, so it never holds real records.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import itertools
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from dermaplan.clinical.assessment import Sex, age_on, parse_assessment
from dermaplan.clinical.blend import label_ban
from dermaplan.clinical.consult import consult
from dermaplan.clinical.plan import PROCEED, Decision
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records import (
    adverse,
    consents,
    courses,
    logins,
    outcomes,
    photos,
    service,
    sessions,
)
from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.context import Context
from dermaplan.records.db import transaction
from dermaplan.records.enums import (
    AdverseEventType,
    Causality,
    ConsentKind,
    ConsentStatus,
    ConsultStatus,
    EventOutcome,
    OutcomeScale,
    PhotoScope,
    PhotoStage,
    SessionStatus,
    Severity,
    StaffRole,
)
from dermaplan.records.errors import DatabaseError, InvalidInput
from dermaplan.records.integrity import AUDITED_BY_TYPE, ImportTally
from dermaplan.records.keyring import signing_key
from dermaplan.records.models import (
    Consent,
    Consult,
    Patient,
    Photo,
    ProductLot,
    SessionProduct,
    TreatmentSession,
)
from dermaplan.records.names import name_key, search_key
from dermaplan.records.safety import NEEDLED, TREATMENT_CONSENT, allergen_hits
from dermaplan.records.scales import SCALES
from dermaplan.records.schemas import (
    AdverseEventData,
    ConsentData,
    ConsultDocument,
    OutcomeData,
    PatientData,
    SessionData,
)

CLINIC_NAME = "Clinique des Tilleuls (demo)"
# every demo member's, printed by demo seed
DEMO_PASSWORD = "demo-clinic-not-for-records"  # noqa: S105
YEARS_OF_RECORDS = 5
SESSION_INTERVAL_DAYS = (21, 42)
UNSIGNED_DAYS = 2  # sessions of the last two days are still drafts, as in a real clinic
PHOTO_ANGLE = "frontal"
PHOTO_LEAD = dt.timedelta(minutes=10)  # before-photos are taken this long before treatment


def placeholder_photo() -> bytes:
    """The demo's before-photo: a plain skin-toned PNG, no patient in it."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (224, 172, 150)).save(out, format="PNG")
    return out.getvalue()


USES_PER_LOT = 100  # a lot's planned uses (at most 180 days of them)
BATCH = 2_000
PHOTO_CONSENT_TEXT = (
    "I agree to photographs of my treated areas being taken and kept in my clinical record; "
    "each other use is asked separately. (Demo consent text.)"
)
PhotoConsent = dict[PhotoScope, bool] | None  # the uses a photo consent grants; None: another
PHOTO_SCOPES: dict[PhotoScope, bool] = {
    PhotoScope.CLINICAL_RECORD: True,
    PhotoScope.TEACHING: False,
    PhotoScope.MARKETING: False,
}
CONSENT_TEXT = {
    modality: f"I have been told what {modality.value} treatment involves, its risks and "
    "its alternatives, and I consent to it. (Demo consent text.)"
    for modality in Modality
}  # patients per executemany batch
SESSIONS_PER_PATIENT = 3  # in a demo, on average; the benchmark asks for 10
DEMO_CONSULT_SHARE = 0.25  # patients with a stored consult in a demo
# At benchmark sizes, fewer: a plan is about 40 kB of JSON, kept exactly as written.
BENCH_CONSULT_SHARE = 0.02
ASSESSED_AFTER_DAYS = (14, 42)  # outcomes are scored this long after the last session
ADVERSE_EVENT_SHARE = 0.05  # treated patients with an adverse event
OPEN_EVENT_SHARE = 0.15  # of those events, still open (the others closed, recovered)

FAMILY_NAMES = (
    "Moreau", "Dubois", "Lefèvre", "Martin", "Bernard", "Rousseau", "Fontaine", "Girard",
    "Núñez", "García", "Fernández", "López", "Martínez", "Rossi", "Bianchi", "Esposito",
    "Müller", "Schmidt", "Schäfer", "Becker", "O'Brien", "Murphy", "Kelly", "Smith", "Jones",
    "Taylor", "Brown", "Williams", "Nguyen", "Tran", "Kim", "Park", "Tanaka", "Suzuki",
    "Kowalski", "Nowak", "Novák", "Jansen", "de Vries", "Van den Berg", "Papadopoulos",
    "Yılmaz", "Haddad", "Khoury", "Okafor", "Mensah", "Silva", "Santos", "Pereira", "Costa",
    "Andersen", "Johansson", "Lindqvist", "Ivanova", "Popescu", "Horváth", "Cohen", "Levi",
    "Patel", "Sharma", "Chen", "Wang", "Ali", "Benali", "Mercier", "Lambert", "Faure",
)  # fmt: skip
GIVEN_FEMALE = (
    "Claire", "Sophie", "Camille", "Léa", "Chloé", "Inès", "Manon", "Julie", "Élodie",
    "María", "Lucía", "Carmen", "Giulia", "Chiara", "Anna", "Lena", "Sarah", "Emma", "Olivia",
    "Aoife", "Siobhan", "Linh", "Mai", "Ji-woo", "Yuki", "Zofia", "Agnieszka", "Eva",
    "Sanne", "Eleni", "Ayşe", "Layla", "Nour", "Chioma", "Ama", "Beatriz", "Ana", "Ingrid",
    "Astrid", "Olga", "Ioana", "Réka", "Noa", "Priya", "Mei", "Fatima", "Amina", "Hélène",
)  # fmt: skip
GIVEN_MALE = (
    "Maurice", "Julien", "Thomas", "Hugo", "Lucas", "Karim", "Pablo", "Javier", "Marco",
    "Luca", "Jonas", "Felix", "Seán", "James", "Minh", "Hiroshi", "Piotr", "Tomáš", "Daan",
    "Nikos", "Emre", "Omar", "Chinedu", "Kwame", "João", "Lars", "Mikhail", "Andrei",
    "Ádám", "David", "Arjun", "Wei", "Yacine",
)  # fmt: skip
PRACTITIONER_NAMES = (
    "Dr Ana Lima", "Dr Hélène Caron", "Dr Marco Vitale", "Dr Sarah Okafor", "Dr Yuki Mori",
    "Dr Pieter de Wit", "Dr Leila Haddad", "Dr Tomás Ibarra",
)  # fmt: skip
STAFF_NAMES = (
    ("Julie Perrin", StaffRole.RECEPTION),
    ("Marc Aubert", StaffRole.RECEPTION),
    ("Nadia Belkacem", StaffRole.ADMIN),
)

# Allergy as written on the record, and the assessment's allergen id (None: not in it).
ALLERGIES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("lidocaine",), ("amide_anaesthetic",)),
    (("fish",), ("fish",)),
    (("nickel",), ("nickel",)),
    (("egg",), ("egg",)),
    (("penicillin",), ()),
    (("soy", "sulfites"), ("soy", "sulfite")),
)


@dataclass(frozen=True, slots=True)
class Recipe:
    """A course a clinic offers: the concern, the modality, the areas, the products."""

    concern: str
    modality: Modality
    areas: tuple[str, ...]
    products: tuple[str, ...]


RECIPES = (
    Recipe("acne_scars", Modality.MICRONEEDLING, ("cheeks", "chin"), ()),
    Recipe("acne_scars", Modality.COMBINED, ("cheeks",), ("ha_skin_booster",)),
    Recipe("dehydration", Modality.MESOTHERAPY, ("cheeks", "forehead"), ("ha_skin_booster",)),
    Recipe("fine_lines", Modality.MESOTHERAPY, ("periorbital",), ("ha_amino_acid_booster",)),
    Recipe("hyperpigmentation", Modality.MESOTHERAPY, ("cheeks", "forehead"), ("txa_4mg_ml",)),
    Recipe("dullness", Modality.MESOTHERAPY, ("cheeks", "forehead"), ("vitamin_c_brightening",)),
    Recipe("laxity", Modality.COMBINED, ("cheeks",), ("ha_skin_booster",)),
    Recipe("stretch_marks", Modality.MICRONEEDLING, ("abdomen", "thighs"), ()),
    Recipe("localized_fat", Modality.MESOTHERAPY, ("submental",), ("deoxycholic_acid_10mg_ml",)),
    Recipe("localized_fat", Modality.MESOTHERAPY, ("abdomen", "flanks"), ("pc_dc_lipolytic",)),
)
ANAESTHETIC = "lidocaine_additive"


@dataclass(frozen=True, slots=True)
class Reaction:
    """An expected reaction, as a clinic would record it when it lasts or worries."""

    type: AdverseEventType
    description: str
    treatment: str | None
    injected: bool  # only after injections (a product was given)
    weight: int


REACTIONS = (
    Reaction(
        AdverseEventType.OTHER,
        "Erythema and mild oedema of the treated area lasting beyond 48 hours.",
        "cool compresses and a bland emollient",
        injected=False,
        weight=6,
    ),
    Reaction(
        AdverseEventType.BRUISING,
        "Small bruises at several injection points.",
        "arnica gel; advised to avoid anticoagulant supplements",
        injected=True,
        weight=5,
    ),
    Reaction(
        AdverseEventType.HYPERPIGMENTATION,
        "Post-inflammatory hyperpigmentation over the treated area.",
        "strict sun protection, topical azelaic acid 15%",
        injected=False,
        weight=1,
    ),
    Reaction(
        AdverseEventType.ALLERGIC_REACTION,
        "Itchy urticarial papules around the injection points on the day after.",
        "oral cetirizine 10 mg for five days",
        injected=True,
        weight=1,
    ),
)
# WHO-UMC causality of an expected reaction soon after the session, and how often.
CAUSALITY = (Causality.PROBABLE, Causality.CERTAIN, Causality.POSSIBLE)
CAUSALITY_WEIGHTS = (5, 2, 3)
DEVICES = (("Dermapen 4", "16-pin"), ("Dermapen 4", "36-pin nano"), ("SkinPen Precision", "14-pin"))


@dataclass(frozen=True, slots=True)
class DemoStaff:
    name: str
    role: StaffRole
    registration: str | None
    login: str  # signs in with DEMO_PASSWORD
    totp_secret: str | None  # the second factor's secret, where they have one


def _demo_member(
    seed: int, name: str, role: StaffRole, registration: str | None, *, totp: bool
) -> DemoStaff:
    secret = None
    if totp:
        made = hashlib.sha256(f"dermaplan demo {seed} {name}".encode()).digest()[:20]
        secret = base64.b32encode(made).decode()
    return DemoStaff(name, role, registration, logins.default_login(name), secret)


@dataclass(slots=True)
class DemoSession:
    """One session in the shape of a session file (without the patient's and staff's ids)."""

    practitioner: int  # index into DemoClinic.staff
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """A score after the last session: by a practitioner (index into DemoClinic.staff), or
    reported by the patient (None)."""

    scale: OutcomeScale
    score: int
    day: dt.date
    assessor: int | None


@dataclass(frozen=True, slots=True)
class DemoAdverseEvent:
    """An adverse event after one of the patient's sessions (index into their sessions), in
    the shape of an adverse event file (without ids)."""

    session: int
    fields: dict[str, Any]


@dataclass(slots=True)
class DemoPatient:
    data: dict[str, Any]  # PatientData fields
    consult: ConsultDocument | None
    follows_consult: bool  # the sessions follow the consult (its plan has their course)
    sessions: list[DemoSession] = field(default_factory=list)
    course: Modality | None = None  # the course the approved plan starts, if it proceeds
    outcomes: list[DemoOutcome] = field(default_factory=list)
    adverse_events: list[DemoAdverseEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DemoCounts:
    staff: int
    patients: int
    consults: int
    sessions: int
    products: int  # product lines given in sessions
    lots: int
    consents: int = 0  # signed treatment consents
    courses: int = 0  # the loaders below `seed` leave these three out
    outcomes: int = 0
    adverse_events: int = 0


def _initials(product: str) -> str:
    return "".join(part[0] for part in product.split("_") if part[0].isalpha()).upper()


class DemoClinic:
    """The generator: the same clinic for the same knowledge, seed, size and `today`."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        *,
        seed: int,
        patients: int,
        sessions: int,
        today: dt.date,
        consult_share: float = DEMO_CONSULT_SHARE,
    ) -> None:
        if patients < 1:
            raise InvalidInput.one("patients: a demo clinic needs at least one")
        self.knowledge = knowledge
        self.seed, self.patient_count, self.session_count = seed, patients, sessions
        self.today, self.consult_share = today, consult_share
        practitioners = min(len(PRACTITIONER_NAMES) * 5, max(2, patients // 2_500))
        self.staff = [
            _demo_member(
                seed,
                self._practitioner_name(i),
                StaffRole.PRACTITIONER,
                f"RPPS {10_000_000 + i}",
                totp=i == 0,
            )
            for i in range(practitioners)
        ] + [
            _demo_member(seed, name, role, None, totp=role is StaffRole.ADMIN)
            for name, role in STAFF_NAMES
        ]
        self.first_day = today - dt.timedelta(days=365 * YEARS_OF_RECORDS)
        # Product lines per day and product, counting 1.2 a session (it comes out nearer 1):
        # a lot lasts for about 80 uses.
        uses_per_day = sessions * 1.2 / len(knowledge.products) / (today - self.first_day).days
        self.lot_days = max(1, min(180, round(USES_PER_LOT / max(uses_per_day, 1e-9))))
        self._recipes = {
            allergies: [r for r in RECIPES if self._allowed(r, allergies)]
            for allergies in [(), *(record for record, _ in ALLERGIES)]
        }

    def _practitioner_name(self, index: int) -> str:
        name = PRACTITIONER_NAMES[index % len(PRACTITIONER_NAMES)]
        return name if index < len(PRACTITIONER_NAMES) else f"{name} {index // 8 + 1}"

    def _allowed(self, recipe: Recipe, allergies: Sequence[str]) -> bool:
        """No product the patient is allergic to, nor one its label or the clinic's policy
        keeps off the recipe's areas (the session would be refused, as a plan's would)."""
        kb = self.knowledge
        return not any(
            allergen_hits(p, allergies, kb)
            or any(label_ban(kb, kb.products[p], area) for area in recipe.areas)
            for p in recipe.products
        )

    def _label_sessions(self, recipe: Recipe) -> int:
        """The most sessions the recipe's products' labels allow in all."""
        return min(
            (
                self.knowledge.products[p].max_sessions or self.session_count
                for p in recipe.products
            ),
            default=self.session_count,
        )

    def lot(self, product: str, day: dt.date) -> tuple[str, dt.date]:
        """The lot of a product in use on a day (lots follow each other), and its expiry."""
        window = max(0, (day - self.first_day).days // self.lot_days)
        end = self.first_day + dt.timedelta(days=(window + 1) * self.lot_days)
        number = f"{_initials(product)}{self.seed % 100:02d}{window:05d}"
        return number, end + dt.timedelta(days=365)

    def patients(self) -> Iterator[DemoPatient]:
        """Every patient with their consult and sessions, generated on the fly."""
        rng = random.Random(self.seed)  # noqa: S311 (demo data, reproducible by design)
        counts = [0] * self.patient_count
        for _ in range(self.session_count):
            counts[rng.randrange(self.patient_count)] += 1
        practitioners = sum(1 for s in self.staff if s.role is StaffRole.PRACTITIONER)
        for index, count in enumerate(counts):
            yield self._patient(rng, index, count, practitioners)

    def _patient(
        self, rng: random.Random, index: int, count: int, practitioners: int
    ) -> DemoPatient:
        sex = Sex.FEMALE if rng.random() < 0.85 else Sex.MALE
        family = rng.choice(FAMILY_NAMES)
        given = rng.choice(GIVEN_FEMALE if sex is Sex.FEMALE else GIVEN_MALE)
        birth = self.today - dt.timedelta(days=rng.randrange(20 * 365, 72 * 365))
        allergy = rng.choice(ALLERGIES) if rng.random() < 0.15 else ((), ())
        handle = search_key(f"{given} {family}").replace(" ", ".")
        data = {
            "family_name": family,
            "given_names": given,
            "birth_date": birth,
            "sex": sex,
            "email": f"{handle}{index}@example.org" if rng.random() < 0.9 else None,
            "phone": f"+33 6 {rng.randrange(10**8):08d}" if rng.random() < 0.8 else None,
            "identifiers": {"chart": f"T{index + 1:07d}"},
            "allergies": list(allergy[0]),
            "history": {},
        }
        # a course within its products' labels: no more sessions, none closer together
        recipe = rng.choice(
            [r for r in self._recipes[allergy[0]] if count <= self._label_sessions(r)]
        )
        practitioner = rng.randrange(practitioners)
        interval = max(
            [rng.randint(*SESSION_INTERVAL_DAYS)]
            + [self.knowledge.products[p].min_interval_days or 0 for p in recipe.products]
        )
        span = (self.today - self.first_day).days
        first = self.today - dt.timedelta(days=rng.randrange(max(1, span - count * interval)))
        first = min(first, self.today - dt.timedelta(days=1 + max(0, count - 1) * interval))
        days = [first + dt.timedelta(days=i * interval) for i in range(count)]
        document, follows, course = None, False, None
        if rng.random() < self.consult_share:
            consult_day = (days[0] if days else self.today) - dt.timedelta(days=rng.randint(7, 21))
            document, follows, course = self._consult(rng, data, allergy[1], recipe, consult_day)
        patient = DemoPatient(data, document, follows, course=course)
        products = list(recipe.products)
        # the anaesthetic additive never goes onto needled skin, nor beyond a plan followed
        additive = recipe.modality is Modality.MESOTHERAPY and not allergy[0] and rng.random() < 0.3
        if additive and not follows:
            products.append(ANAESTHETIC)
        device = rng.choice(DEVICES)
        for day in days:
            patient.sessions.append(
                DemoSession(
                    practitioner if rng.random() < 0.9 else rng.randrange(practitioners),
                    self._session(rng, recipe, products, day, device, allergy[0]),
                )
            )
        # What followed the sessions comes from its own stream, so that the clinic the
        # benchmark loads (patients, consults, sessions) stays the same for a seed.
        self._follow_up(random.Random(f"{self.seed}:{index}"), patient)  # noqa: S311
        return patient

    def _follow_up(self, rng: random.Random, patient: DemoPatient) -> None:
        """Outcome scores after the last session, and now and then an adverse event."""
        if not patient.sessions:
            return
        last = patient.sessions[-1]
        scored = last.fields["performed_at"].date() + dt.timedelta(
            days=rng.randint(*ASSESSED_AFTER_DAYS)
        )
        if scored <= self.today:
            patient.outcomes = [
                DemoOutcome(
                    OutcomeScale.GAIS, _score(rng, OutcomeScale.GAIS), scored, last.practitioner
                ),
                DemoOutcome(
                    OutcomeScale.PATIENT_SATISFACTION,
                    _score(rng, OutcomeScale.PATIENT_SATISFACTION),
                    scored,
                    None,
                ),
            ]
        if rng.random() >= ADVERSE_EVENT_SHARE:
            return
        number = rng.randrange(len(patient.sessions))
        visit = patient.sessions[number].fields
        uses = visit["products"]
        reaction = rng.choices(
            [r for r in REACTIONS if uses or not r.injected],
            [r.weight for r in REACTIONS if uses or not r.injected],
        )[0]
        onset = min(self.today, visit["performed_at"].date() + dt.timedelta(days=rng.randint(0, 2)))
        closed = rng.random() >= OPEN_EVENT_SHARE
        patient.adverse_events.append(
            DemoAdverseEvent(
                number,
                {
                    "type": reaction.type,
                    "severity": Severity.MILD if rng.random() < 0.9 else Severity.MODERATE,
                    "onset": onset,
                    "causality": rng.choices(CAUSALITY, CAUSALITY_WEIGHTS)[0],
                    "treatment": reaction.treatment,
                    "outcome": EventOutcome.RECOVERED if closed else EventOutcome.RECOVERING,
                    "description": reaction.description,
                    "lots": [
                        {"product": use["product"], "lot": use["lot"], "expiry": use["expiry"]}
                        for use in uses
                    ],
                    "closed": closed,
                },
            )
        )

    def _consult(
        self,
        rng: random.Random,
        data: dict[str, Any],
        allergens: tuple[str, ...],
        recipe: Recipe,
        day: dt.date,
    ) -> tuple[ConsultDocument, bool, Modality | None]:
        """An assessment of the patient's concern, the real engine's plan for it, whether
        the sessions follow it, and the course it starts (when the plan proceeds)."""
        kb = self.knowledge
        age = age_on(data["birth_date"], day)
        assessment = parse_assessment(
            {
                "consult_date": day.isoformat(),
                "patient": {
                    "age": age,
                    "sex": data["sex"].value,
                    "fitzpatrick": rng.randint(1, 6),
                    "glogau": rng.randint(1, 4),
                    "pregnant": False,
                    "breastfeeding": False,
                },
                "conditions": dict.fromkeys(kb.vocabulary["conditions"], False),
                "medications": {m: {"status": "never"} for m in kb.vocabulary["medications"]},
                "allergies": list(allergens),
                "procedures": [],
                "concerns": [
                    {
                        "concern": recipe.concern,
                        "areas": list(recipe.areas),
                        "severity": rng.choice(("mild", "moderate", "severe")),
                    }
                ],
                "goals": {},
            },
            kb,
        )
        plan = consult(assessment, kb)
        decision = plan.decision(recipe.modality).decision
        # the sessions follow the plan where it has their course and gives all they give (a
        # plan of another preparation is not theirs), and start its course if it proceeds
        planned = [c for c in plan.courses if c.modality is recipe.modality]
        given = set(recipe.products)
        follows = (
            decision is not Decision.CONTRAINDICATED
            and any(set(c.products) <= given for c in planned)
            and given <= {product for c in planned for product in c.products}
        )
        return (
            ConsultDocument.from_engine(assessment, plan),
            follows,
            recipe.modality if follows and decision in PROCEED else None,
        )

    def _session(
        self,
        rng: random.Random,
        recipe: Recipe,
        products: list[str],
        day: dt.date,
        device: tuple[str, str],
        allergies: tuple[str, ...],
    ) -> dict[str, Any]:
        areas = [a for a in recipe.areas if rng.random() < 0.8] or [recipe.areas[0]]
        needled = recipe.modality in NEEDLED
        at = dt.datetime(
            day.year, day.month, day.day, rng.randint(8, 17), 15 * rng.randrange(4), tzinfo=dt.UTC
        )
        depths: dict[str, float] = {}
        for area in areas if needled else ():
            limit = self.knowledge.areas[area].deepest_cap_mm or 0.5
            steps = int(limit / 0.25)
            depths[area] = 0.25 * rng.randint(max(1, steps // 2), steps)
        uses = []
        for product in products:
            number, expiry = self.lot(product, day)
            scale = 0.1 if product == ANAESTHETIC else 1.0
            uses.append(
                {
                    "product": product,
                    "lot": number,
                    "expiry": expiry,
                    "volumes_ml": {a: round(scale * rng.uniform(0.5, 1.5), 2) for a in areas},
                }
            )
        points = [
            {"area": rng.choice(areas), "x": round(rng.random(), 2), "y": round(rng.random(), 2)}
            for _ in range(rng.randint(0, 4) if products else 0)
        ]
        return {
            "performed_at": at,
            "modality": recipe.modality,
            "areas": areas,
            "device": device[0] if needled else None,
            "needle_cartridge": device[1] if needled else None,
            "depths_mm": depths,
            "passes": {a: rng.randint(2, 4) for a in depths},
            "products": uses,
            "injection_points": points,
            "anaesthesia": "topical lidocaine 5%, 30 minutes"
            if needled and "lidocaine" not in allergies
            else None,
            "deviations": [],
            "notes": rng.choice((None, None, "Well tolerated.", "Mild erythema, settled.")),
        }


def _score(rng: random.Random, scale: OutcomeScale) -> int:
    """A whole score in the scale's range, the better end more likely (most improve)."""
    valid = SCALES[scale]
    values = list(range(int(valid.low), int(valid.high) + 1))
    if valid.better == "lower":
        values.reverse()
    return rng.choices(values, [(rank + 1) ** 2 for rank in range(len(values))])[0]


def _refuse_if_not_empty(session: Session) -> None:
    """Nothing silently mixed: demo records go only into a database without patients."""
    patients = session.scalar(select(func.count()).select_from(Patient)) or 0
    if patients:
        raise InvalidInput.one(
            f"this database already holds {patients} patients; seed a demo into an empty one"
        )


def _clinic_and_staff(
    session: Session, context: Context, clinic: DemoClinic
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    clinic_id = service.create_clinic(session, context, CLINIC_NAME).id
    staff = [
        service.add_staff(session, context, clinic_id, s.name, s.role, s.registration).id
        for s in clinic.staff
    ]
    hashed = logins.hash_password(DEMO_PASSWORD)  # once: every member has the same
    for member, staff_id in zip(clinic.staff, staff, strict=True):
        logins.store_credential(session, context, clinic_id, staff_id, hashed, member.login)
        if member.totp_secret is not None:
            logins.enrol_totp(session, context, clinic_id, staff_id, member.totp_secret)
    return clinic_id, staff


def _consent_templates(
    session: Session, context: Context, clinic_id: uuid.UUID
) -> dict[ConsentKind, uuid.UUID]:
    """One treatment consent text per modality and the photo consent's, published before
    the first record."""
    published = Context(
        context.actor, context.now - dt.timedelta(days=366 * (YEARS_OF_RECORDS + 1))
    )
    texts = {TREATMENT_CONSENT[m]: CONSENT_TEXT[m] for m in Modality}
    return {
        kind: consents.publish_template(session, published, clinic_id, kind, text).id
        for kind, text in (texts | {ConsentKind.PHOTO: PHOTO_CONSENT_TEXT}).items()
    }


def _consents(demo: DemoPatient) -> list[tuple[ConsentKind, dt.datetime, PhotoConsent]]:
    """The consents a patient signs: one per modality treated, the day before the first, and
    with the first of them the photo consent, for the before-photos (seen in the clinical
    record only: teaching and marketing are refused, as most patients would)."""
    first: dict[Modality, dt.datetime] = {}
    for visit in demo.sessions:
        modality = Modality(visit.fields["modality"])
        performed = visit.fields["performed_at"]
        if modality not in first or performed < first[modality]:
            first[modality] = performed
    signed = [
        (TREATMENT_CONSENT[modality], when - dt.timedelta(days=1), None)
        for modality, when in sorted(first.items())
    ]
    return [*signed, (ConsentKind.PHOTO, signed[0][1], PHOTO_SCOPES)] if signed else []


def seed(
    engine: Engine,
    context: Context,
    clinic: DemoClinic,
    storage: photos.PhotoStorage,
    progress: Callable[[int], None] = lambda _done: None,
) -> DemoCounts:
    """Store the clinic through the record services (every rule, every audit event), in one
    transaction; the photo files go to `storage`; `progress` hears of each patient stored."""
    knowledge = clinic.knowledge
    placeholder = placeholder_photo()
    cutoff = context.now - dt.timedelta(days=UNSIGNED_DAYS)
    patients = consults = records = products = started = scores = events = 0
    with transaction(engine) as session:
        _refuse_if_not_empty(session)
        clinic_id, staff = _clinic_and_staff(session, context, clinic)
        templates = _consent_templates(session, context, clinic_id)
        signed_consents = 0
        for demo in clinic.patients():
            data = PatientData.parse(demo.data)
            patient_id = service.create_patient(session, context, clinic_id, data).id
            patients += 1
            progress(patients)
            consult_id = None
            if demo.consult is not None:
                # Stored, approved and its course started on the consult's day, before the
                # sessions that follow it are recorded.
                day = demo.consult.consult_date
                on_the_day = Context(
                    context.actor, dt.datetime(day.year, day.month, day.day, 18, tzinfo=dt.UTC)
                )
                stored = service.create_consult(
                    session, on_the_day, clinic_id, patient_id, demo.consult
                )
                service.approve_consult(session, on_the_day, clinic_id, stored.id, staff[0])
                consult_id = stored.id if demo.follows_consult else None
                consults += 1
                if demo.course is not None:
                    courses.start_course(session, on_the_day, clinic_id, stored.id, demo.course)
                    started += 1
            for kind, signed_at, scopes in _consents(demo):
                consents.record_consent(
                    session,
                    context,
                    clinic_id,
                    ConsentData(
                        patient=patient_id,
                        template=templates[kind],
                        opened_at=signed_at - dt.timedelta(minutes=15),
                        signed_at=signed_at,
                        signer=f"{data.given_names} {data.family_name}".strip(),
                        signature=data.family_name,
                        scopes=scopes,
                    ),
                )
                signed_consents += 1
            recorded = []
            for visit in demo.sessions:
                fields = visit.fields | {
                    "patient": patient_id,
                    "practitioner": staff[visit.practitioner],
                    "consult": consult_id,
                }
                record = sessions.record_session(
                    session, context, clinic_id, SessionData.model_validate(fields), knowledge
                )
                for area in record.areas:
                    before = photos.PhotoData(
                        patient_id,
                        area,
                        PHOTO_ANGLE,
                        record.performed_at - PHOTO_LEAD,
                        PhotoStage.BEFORE,
                        record.id,
                    )
                    photos.record_photo(session, context, clinic_id, storage, before, placeholder)
                if record.performed_at < cutoff:
                    sessions.sign_session(session, context, clinic_id, record.id, knowledge)
                recorded.append(record.id)
                records += 1
                products += len(visit.fields["products"])
            for event in demo.adverse_events:
                adverse.record_adverse_event(
                    session,
                    context,
                    clinic_id,
                    AdverseEventData.model_validate(
                        event.fields
                        | {
                            "patient": patient_id,
                            "session": recorded[event.session],
                            "reporter": staff[demo.sessions[event.session].practitioner],
                        }
                    ),
                )
                events += 1
            for score in demo.outcomes:
                outcomes.record_outcome(
                    session,
                    context,
                    clinic_id,
                    OutcomeData(
                        patient=patient_id,
                        session=recorded[-1],
                        scale=score.scale,
                        score=score.score,
                        date=score.day,
                        assessor=staff[score.assessor] if score.assessor is not None else None,
                        patient_reported=score.assessor is None,
                    ),
                )
                scores += 1
        lots = session.scalar(select(func.count()).select_from(ProductLot)) or 0
    return DemoCounts(
        len(staff),
        patients,
        consults,
        records,
        products,
        lots,
        signed_consents,
        courses=started,
        outcomes=scores,
        adverse_events=events,
    )


class _Ids:
    """Deterministic, increasing UUIDv7s for bulk rows: a millisecond counter from `today`
    plus the generator's randomness. Increasing ids let a batch be addressed as a range."""

    def __init__(self, rng: random.Random, today: dt.date) -> None:
        self.rng = rng
        start = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)
        self.ms = int(start.timestamp() * 1000)

    def __call__(self) -> uuid.UUID:
        self.ms += 1
        value = self.ms << 80 | self.rng.getrandbits(80)
        value = (value & ~(0xF << 76)) | (0x7 << 76)
        value = (value & ~(0x3 << 62)) | (0x2 << 62)
        return uuid.UUID(int=value)


# the rows bulk_load inserts that records.integrity checks: (their name in a batch, type)
IMPORTED = (
    ("patient", "patient"),
    ("consult", "consult"),
    ("lot", "product_lot"),
    ("session", "treatment_session"),
    ("consent", "consent"),
    ("photo", "photo"),
)


def _tally(session: Session, tally: ImportTally, ids: list[uuid.UUID]) -> None:
    """Count rows just inserted into their import's tally, as stored (read back as `audit
    verify` reads them, signed sessions signed)."""
    audited = tally.audited
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        query = select(audited.model).options(*audited.loads).where(audited.model.id.in_(chunk))
        for record in session.scalars(query):
            tally.add_record(record)
    session.expunge_all()


def bulk_load(
    engine: Engine, context: Context, clinic: DemoClinic, storage: photos.PhotoStorage
) -> DemoCounts:
    """Insert the clinic in batches, in one transaction, audited as one import (see the
    module's docstring); the one photo file goes to `storage`."""
    placeholder = photos.store_file(storage, placeholder_photo())
    ids = _Ids(random.Random(clinic.seed), clinic.today)  # noqa: S311 (reproducible ids)
    now = context.now
    cutoff = now - dt.timedelta(days=UNSIGNED_DAYS)
    lot_ids: dict[tuple[str, str], uuid.UUID] = {}
    counts = dict.fromkeys(("patients", "consults", "sessions", "products", "lots", "consents"), 0)
    with transaction(engine) as session:
        _refuse_if_not_empty(session)
        clinic_id, staff = _clinic_and_staff(session, context, clinic)
        templates = _consent_templates(session, context, clinic_id)
        signing = signing_key(session)
        tallies = {name: ImportTally(AUDITED_BY_TYPE[kind], signing) for name, kind in IMPORTED}
        connection = session.connection()
        demos = clinic.patients()
        while batch := list(itertools.islice(demos, BATCH)):
            rows: dict[str, list[dict[str, Any]]] = {
                "patient": [], "consult": [], "lot": [], "session": [], "product": [],
                "consent": [], "photo": [],
            }  # fmt: skip
            first_session: uuid.UUID | None = None
            for demo in batch:
                patient_id = ids()
                data = demo.data
                rows["patient"].append(
                    data
                    | {
                        "id": patient_id,
                        "clinic_id": clinic_id,
                        "search_name": name_key(data["family_name"], data["given_names"]),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                for kind, signed_at, scopes in _consents(demo):
                    rows["consent"].append(
                        {
                            "id": ids(),
                            "patient_id": patient_id,
                            "template_id": templates[kind],
                            "kind": kind,
                            "photo_scopes": {s.value: g for s, g in scopes.items()}
                            if scopes
                            else None,
                            "status": ConsentStatus.SIGNED,
                            "opened_at": signed_at - dt.timedelta(minutes=15),
                            "signed_at": signed_at,
                            "signer_name": f"{data['given_names']} {data['family_name']}".strip(),
                            "signature_text": data["family_name"],
                            "created_by": context.actor,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                consult_id = None
                if demo.consult is not None:
                    consult_id = ids()
                    document = demo.consult
                    rows["consult"].append(
                        {
                            "id": consult_id,
                            "patient_id": patient_id,
                            "status": ConsultStatus.APPROVED,
                            "consult_date": document.consult_date,
                            "assessment_json": document.assessment_json,
                            "plan_json": document.plan_json,
                            "knowledge_version": document.knowledge_version,
                            "created_by": context.actor,
                            "approved_by_id": staff[0],
                            "approved_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                for visit in demo.sessions:
                    session_id = ids()
                    first_session = first_session or session_id
                    fields = dict(visit.fields)
                    uses = fields.pop("products")
                    rows["session"].append(
                        fields
                        | {
                            "id": session_id,
                            "patient_id": patient_id,
                            "practitioner_id": staff[visit.practitioner],
                            "consult_id": consult_id if demo.follows_consult else None,
                            "status": SessionStatus.DRAFT,
                            "created_by": context.actor,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    rows["photo"] += [
                        {
                            "id": ids(),
                            "patient_id": patient_id,
                            "session_id": session_id,
                            "area": area,
                            "angle": PHOTO_ANGLE,
                            "taken_at": fields["performed_at"] - PHOTO_LEAD,
                            "stage": PhotoStage.BEFORE,
                            "media_type": placeholder.media_type,
                            "sha256": placeholder.sha256,
                            "size_bytes": placeholder.size_bytes,
                            "storage_key": placeholder.storage_key,
                            "created_by": context.actor,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for area in fields["areas"]
                    ]
                    for position, use in enumerate(uses):
                        key = (use["product"], use["lot"])
                        if key not in lot_ids:
                            lot_ids[key] = ids()
                            rows["lot"].append(
                                {
                                    "id": lot_ids[key],
                                    "clinic_id": clinic_id,
                                    "product": use["product"],
                                    "lot_number": use["lot"],
                                    "expiry_date": use["expiry"],
                                    "created_at": now,
                                    "updated_at": now,
                                }
                            )
                        rows["product"].append(
                            {
                                "id": ids(),
                                "session_id": session_id,
                                "position": position,
                                "product": use["product"],
                                "lot_id": lot_ids[key],
                                "volumes_ml": use["volumes_ml"],
                            }
                        )
            for name, model in (
                ("patient", Patient),
                ("consult", Consult),
                ("lot", ProductLot),
                ("session", TreatmentSession),
                ("product", SessionProduct),
                ("consent", Consent),
                ("photo", Photo),
            ):
                if rows[name]:
                    connection.execute(insert(model), rows[name])
            if first_session is not None:
                # Products go in while their session is a draft (signed ones are frozen).
                connection.execute(
                    update(TreatmentSession)
                    .where(
                        TreatmentSession.id >= first_session,
                        TreatmentSession.status == SessionStatus.DRAFT,
                        TreatmentSession.performed_at < cutoff,
                    )
                    .values(
                        status=SessionStatus.SIGNED,
                        signed_by_id=TreatmentSession.practitioner_id,
                        signed_at=TreatmentSession.performed_at,
                    )
                )
            for name, tally in tallies.items():
                _tally(session, tally, [row["id"] for row in rows[name]])
            counts["patients"] += len(rows["patient"])
            counts["consults"] += len(rows["consult"])
            counts["lots"] += len(rows["lot"])
            counts["sessions"] += len(rows["session"])
            counts["products"] += len(rows["product"])
            counts["consents"] += len(rows["consent"])
        result = DemoCounts(staff=len(staff), **counts)
        record_event(
            session,
            context,
            clinic_id,
            AuditAction.DEMO_IMPORT,
            "clinic",
            clinic_id,
            after={
                "generator": "dermaplan.records.demo",
                "seed": clinic.seed,
                "today": clinic.today,
                "knowledge_version": clinic.knowledge.version,
                "counts": {"staff": result.staff, **counts},
            },
        )
        for tally in tallies.values():
            signed = record_event(
                session,
                context,
                clinic_id,
                AuditAction.RECORDS_IMPORT,
                tally.audited.record_type,
                None,
                after=tally.state(),
            )
            if signed.key_id != signing.id:
                raise DatabaseError("the audit key was rotated during the import: load it again")
    if engine.dialect.name == "postgresql":
        # Fresh statistics, as after any bulk load: without them the planner guesses
        # thousands of rows per patient and hash-joins a timeline over a full table scan
        # (p95 60 ms instead of 5 ms at a million sessions) until autovacuum gets there.
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return result
