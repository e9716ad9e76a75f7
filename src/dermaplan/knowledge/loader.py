"""Load, layer and cross-check knowledge directories into one immutable KnowledgeBase.

The built-in directory comes first; a clinic directory layered over it adds entries or
replaces them by id: tightening, never weakening, what keeps a patient safe (a rule's
condition and reach, a label's limits, allergens, depth caps: see layering.py); a policy only
its value, within the documented range. Every problem is reported with its file and entry.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dermaplan.documents import DocumentError, read_yaml_file
from dermaplan.knowledge.conditions import Comparison, PolicyRef, Predicate, walk
from dermaplan.knowledge.facts import PREDICATES, FactType, fact_names
from dermaplan.knowledge.layering import weakenings
from dermaplan.knowledge.schema import (
    Area,
    CareItem,
    Concern,
    CourseTemplate,
    Ingredient,
    IngredientClass,
    Modality,
    ModalityInfo,
    Needling,
    Policy,
    Product,
    Range,
    Reference,
    Rule,
    Screening,
    Severity,
)
from dermaplan.problems import path as field_path
from dermaplan.problems import validation_problems

BUILTIN_DIR = Path(__file__).parent / "data"

# Policies the engine itself reads; a knowledge set without them cannot make a plan.
ENGINE_POLICIES = ("event_buffer_days",)
# The modalities that pierce the skin of the treated area: all of them.
PIERCING = (Modality.MESOTHERAPY, Modality.MICRONEEDLING)

LIST_KINDS: dict[str, type[BaseModel]] = {
    "references": Reference,
    "areas": Area,
    "concerns": Concern,
    "modalities": ModalityInfo,
    "policies": Policy,
    "ingredients": Ingredient,
    "products": Product,
    "rules": Rule,
    "courses": CourseTemplate,
    "care": CareItem,
}
SINGLE_KINDS: dict[str, type[BaseModel]] = {"screening": Screening, "needling": Needling}

M = TypeVar("M", bound=BaseModel)


class KnowledgeError(Exception):
    """Knowledge that does not load; `problems` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" — did you mean '{close[0]}'?" if close else ""


@dataclass(frozen=True, eq=False)  # identity equality: hashable, cheap to cache on
class KnowledgeBase:
    references: dict[str, Reference]
    areas: dict[str, Area]
    concerns: dict[str, Concern]
    modalities: dict[Modality, ModalityInfo]
    screening: Screening
    policies: dict[str, Policy]
    ingredients: dict[str, Ingredient]
    products: dict[str, Product]
    rules: tuple[Rule, ...]
    needling: Needling
    courses: tuple[CourseTemplate, ...]
    care: tuple[CareItem, ...]
    layers: tuple[str, ...]
    version: str = field(default="")

    @cached_property
    def vocabulary(self) -> dict[str, list[str]]:
        """Screening ids by kind, the expansion of the fact patterns."""
        return {
            "conditions": [item.id for item in self.screening.conditions],
            "medications": [item.id for item in self.screening.medications],
            "allergens": [item.id for item in self.screening.allergens],
            "procedures": [item.id for item in self.screening.procedures],
        }

    @cached_property
    def allergen_terms(self) -> dict[str, frozenset[str]]:
        """Allergen id -> the words a recorded allergy may use for it (its id, name and
        examples), case-folded: how free-text allergies on a patient's record are read."""
        return {
            item.id: frozenset(
                word.casefold()
                for word in (item.id, item.id.replace("_", " "), item.name, *item.examples)
            )
            for item in self.screening.allergens
        }

    @cached_property
    def facts(self) -> dict[str, FactType]:
        return fact_names(self.vocabulary)

    def policy(self, name: str) -> float:
        return self.policies[name].effective

    def number(self, value: float | str) -> float:
        """A number as the data gives it: itself, or the value of the policy `policy.<id>`."""
        return self.policy(value.removeprefix("policy.")) if isinstance(value, str) else value

    def entry(self, kind: str, entry_id: str) -> BaseModel:
        """One entry by kind and id, for `knowledge show`; KeyError names what exists."""
        tables: dict[str, Mapping[Any, BaseModel]] = {
            "reference": self.references,
            "area": self.areas,
            "concern": self.concerns,
            "modality": self.modalities,
            "policy": self.policies,
            "ingredient": self.ingredients,
            "product": self.products,
            "rule": {rule.id: rule for rule in self.rules},
            "course": {course.id: course for course in self.courses},
            "care": {item.id: item for item in self.care},
        }
        table = tables.get(kind)
        if table is None:
            raise KeyError(f"'{kind}' is not a kind of entry{did_you_mean(kind, ENTRY_KINDS)}")
        if entry_id not in table:
            raise KeyError(f"no {kind} '{entry_id}'{did_you_mean(entry_id, table)}")
        return table[entry_id]


ENTRY_KINDS = (
    "reference",
    "area",
    "concern",
    "modality",
    "policy",
    "ingredient",
    "product",
    "rule",
    "course",
    "care",
)


@dataclass
class _Raw:
    """Entries as read, with where each came from."""

    lists: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    singles: dict[str, tuple[str, Any]] = field(default_factory=dict)


def knowledge_files(directory: Path) -> list[Path]:
    """The files a knowledge directory is read from, in the order they are read."""
    return sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))


def _read_dir(directory: Path, problems: list[str]) -> _Raw:
    raw = _Raw()
    if not directory.is_dir():
        problems.append(f"{directory}: not a directory")
        return raw
    files = knowledge_files(directory)
    if not files:
        problems.append(f"{directory}: no .yaml files")
    for path in files:
        try:
            document = read_yaml_file(path)
        except DocumentError as error:
            problems.append(error.located(path.name))
            continue
        if document is None:
            continue
        if not isinstance(document, dict):
            problems.append(f"{path.name}: the top level must be a mapping of kinds")
            continue
        for kind, body in document.items():
            where = f"{path.name}: {kind}"
            if kind in LIST_KINDS:
                if not isinstance(body, list):
                    problems.append(f"{where}: must be a list of entries")
                    continue
                for index, entry in enumerate(body):
                    if not isinstance(entry, dict):
                        problems.append(f"{where}[{index}]: must be a mapping")
                        continue
                    label = f"{where}[{index}]" + (f" (id: {entry['id']})" if "id" in entry else "")
                    raw.lists.setdefault(kind, []).append((label, entry))
            elif kind in SINGLE_KINDS:
                if kind in raw.singles:
                    problems.append(f"{where}: also given in {raw.singles[kind][0]}")
                raw.singles[kind] = (where, body)
            else:
                known = [*LIST_KINDS, *SINGLE_KINDS]
                problems.append(f"{where}: unknown kind{did_you_mean(str(kind), known)}")
    return raw


def _validation_lines(label: str, error: ValidationError) -> list[str]:
    return [
        f"{label}{field_path(p.location, within=True)}: {p.message}"
        for p in validation_problems(error)
    ]


def _validate(model: type[M], label: str, body: Any, problems: list[str]) -> M | None:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems.extend(_validation_lines(label, error))
        return None


def _merge_layers(layers: list[_Raw], problems: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for kind, model in LIST_KINDS.items():
        by_id: dict[str, tuple[str, Any]] = {}
        for depth, layer in enumerate(layers):
            seen_here: set[str] = set()
            for label, body in layer.lists.get(kind, []):
                entry_id = body.get("id")
                if isinstance(entry_id, str) and entry_id in seen_here:
                    problems.append(f"{label}: id '{entry_id}' is given twice in this layer")
                    continue
                if isinstance(entry_id, str):
                    seen_here.add(entry_id)
                if depth > 0 and kind == "policies" and set(body) <= {"id", "value"}:
                    _set_policy(by_id, label, body, problems)
                    continue
                if kind == "policies" and entry_id in by_id:
                    problems.append(
                        f"{label}: a layer sets policy '{entry_id}' by id and value alone; its "
                        "default, range and unit are the built-in knowledge's"
                    )
                    continue
                entry = _validate(model, label, body, problems)
                if entry is None:
                    continue
                key = str(getattr(entry, "id"))  # noqa: B009 - every list kind has an id
                if key in by_id:
                    _check_not_weaker(by_id[key][1], entry, label, problems)
                by_id[key] = (label, entry)
        merged[kind] = {key: entry for key, (_, entry) in by_id.items()}
    for kind, model in SINGLE_KINDS.items():
        chosen = None
        for layer in layers:
            if kind in layer.singles:
                label, body = layer.singles[kind]
                replacing = _validate(model, label, body, problems)
                if chosen is not None and replacing is not None:
                    _check_not_weaker(chosen, replacing, f"{label} ({kind})", problems)
                chosen = replacing or chosen
        if chosen is None:
            problems.append(f"{kind}: missing (no layer defines it)")
        merged[kind] = chosen
    return merged


def _set_policy(
    by_id: dict[str, tuple[str, Any]], label: str, body: dict[str, Any], problems: list[str]
) -> None:
    entry_id = body.get("id")
    if entry_id not in by_id:
        problems.append(
            f"{label}: no policy '{entry_id}' to set{did_you_mean(str(entry_id), by_id)}"
        )
        return
    base: Policy = by_id[entry_id][1]
    data = base.model_dump(by_alias=True) | {"value": body.get("value")}
    updated = _validate(Policy, label, data, problems)
    if updated is not None:
        by_id[entry_id] = (label, updated)


def _check_not_weaker(before: BaseModel, after: BaseModel, where: str, problems: list[str]) -> None:
    problems.extend(
        f"{where}: {line} (a layer may tighten, never weaken)" for line in weakenings(before, after)
    )


def _check_references(kb: KnowledgeBase, problems: list[str]) -> None:
    """Every id an entry names must exist; each message names the entry and a near miss."""

    def need(kind: str, ids: Iterable[str], table: Iterable[str], where: str) -> None:
        choices = list(table)
        for item in ids:
            if item not in choices:
                problems.append(f"{where}: unknown {kind} '{item}'{did_you_mean(item, choices)}")

    allergens = kb.vocabulary["allergens"]
    sourced: list[tuple[str, list[str]]] = []

    def sources_of(where: str, entry: Any) -> None:
        sourced.append((where, entry.sources))

    for area in kb.areas.values():
        sources_of(f"area {area.id}", area)
        for cap in area.needling_caps:
            sources_of(f"area {area.id}", cap)
            need("concern", cap.concerns or [], kb.concerns, f"area {area.id}.needling_caps")
        need(
            "body region",
            [area.body_region],
            [r.id for r in kb.needling.body_regions],
            f"area {area.id}",
        )
    for concern in kb.concerns.values():
        where = f"concern {concern.id}"
        sources_of(where, concern.occurs_on)
        need("area", concern.occurs_on.areas, kb.areas, f"{where}.occurs_on")
        if concern.refer is not None:
            sources_of(where, concern.refer)
        skin = {item.id for item in kb.screening.conditions if item.treated_skin}
        need("condition", concern.implies, kb.vocabulary["conditions"], f"{where}.implies")
        for condition in concern.implies:
            if condition in kb.vocabulary["conditions"] and condition not in skin:
                problems.append(
                    f"{where}.implies: {condition} is not about the treated skin (treated_skin)"
                )
        for fit in concern.addressed_by:
            sources_of(where, fit)
            need("area", fit.areas or [], kb.areas, where)
            if fit.adjunct is not None:
                need("ingredient", fit.adjunct.ingredients, kb.ingredients, f"{where}.adjunct")
                need(
                    "medication",
                    fit.adjunct.medications,
                    kb.vocabulary["medications"],
                    f"{where}.adjunct",
                )
                if fit.modality is not Modality.MICRONEEDLING:
                    problems.append(f"{where}: an adjunct is what the evidence gave with needling")
            if fit.on_needled_skin and fit.modality is not Modality.MESOTHERAPY:
                problems.append(f"{where}: only a mesotherapy product goes on needled skin")
            stray = sorted(set(fit.areas or ()) - set(concern.occurs_on.areas))
            if stray:
                problems.append(
                    f"{where}: {fit.modality} addresses it on {', '.join(stray)}, "
                    "where it does not occur (occurs_on)"
                )
    for info in kb.modalities.values():
        sources_of(f"modality {info.id}", info)
    for policy in kb.policies.values():
        sources_of(f"policy {policy.id}", policy)
    for ingredient in kb.ingredients.values():
        where = f"ingredient {ingredient.id}"
        sources_of(where, ingredient)
        if ingredient.max_mg_per_session is not None:
            sources_of(where, ingredient.max_mg_per_session)
        for claim in [*ingredient.concerns, *ingredient.not_for]:
            sources_of(where, claim)
        concerns = [c.concern for c in ingredient.concerns] + [
            n.concern for n in ingredient.not_for
        ]
        need("concern", concerns, kb.concerns, where)
        need("allergen", ingredient.allergens, allergens, where)
        for clash in ingredient.incompatible_with:
            sources_of(where, clash)
            need("ingredient", [clash.ingredient], kb.ingredients, where)
    onto_needled = {
        concern.id
        for concern in kb.concerns.values()
        for fit in concern.addressed_by
        if fit.on_needled_skin
    }
    for product in kb.products.values():
        where = f"product {product.id}"
        sources_of(where, product)
        needled_claims = sorted(onto_needled.intersection(c.concern for c in product.concerns))
        if needled_claims and not product.open_skin:
            problems.append(
                f"{where}: claims {', '.join(needled_claims)}, which mesotherapy treats only on "
                "needled skin, but it is not open_skin"
            )
        need("ingredient", [c.ingredient for c in product.components], kb.ingredients, where)
        for claim in product.concerns:
            sources_of(where, claim)
            need("concern", [claim.concern], kb.concerns, where)
        for dosing in product.dosing:
            sources_of(where, dosing)
            need("area", dosing.areas, kb.areas, where)
        need("area", product.areas or [], kb.areas, where)
        if product.requires_policy is not None:
            need("policy", [product.requires_policy], kb.policies, where)
        if product.downtime is not None:
            sources_of(where, product.downtime)
        if product.handling is not None:
            sources_of(where, product.handling)
        if product.open_skin:
            numbing = [
                c.ingredient
                for c in product.components
                if c.ingredient in kb.ingredients
                and kb.ingredients[c.ingredient].ingredient_class is IngredientClass.ANAESTHETIC
            ]
            if numbing:
                problems.append(
                    f"{where}: open_skin, but it contains an anaesthetic ({', '.join(numbing)}); "
                    "nothing that numbs goes onto needled skin"
                )
    for procedure in kb.screening.procedures:
        need("ingredient", procedure.ingredients, kb.ingredients, f"procedure {procedure.id}")
    for rule in kb.rules:
        where = f"rule {rule.id}"
        sources_of(where, rule)
        need("area", rule.areas or [], kb.areas, where)
        need("ingredient", rule.ingredients, kb.ingredients, where)
        need("device", rule.devices, _device_kinds(kb), where)
        _check_condition(kb, rule, problems)
    needling = kb.needling
    radio = needling.radiofrequency
    if radio is not None:
        where = f"radiofrequency {radio.id}"
        for part in (radio, radio.energy, radio.downtime, radio.safety):
            sources_of(where, part)
        need("concern", radio.concerns, kb.concerns, where)
        need("area", radio.areas, kb.areas, where)
        problems += [
            f"{where}: {concern} is not addressed by microneedling, whose device it is"
            for concern in radio.concerns
            if concern in kb.concerns
            and all(
                f.modality is not Modality.MICRONEEDLING for f in kb.concerns[concern].addressed_by
            )
        ]
        for entry in radio.depths:
            sources_of(f"{where}.depths", entry)
            need("area", entry.areas, kb.areas, f"{where}.depths")
        for kind in radio.needles:
            sources_of(f"{where}.needles", kind)
        for spacing in radio.courses:
            sources_of(f"{where}.courses", spacing)
            need("concern", spacing.concerns, kb.concerns, f"{where}.courses")
    for indication in needling.indications:
        sources_of("needling indication", indication)
        if indication.ceiling is not None:
            sources_of("needling indication", indication.ceiling)
        need("concern", [indication.concern], kb.concerns, "needling indication")
    for device in needling.devices:
        sources_of(f"device {device.id}", device)
        need("area", device.areas or [], kb.areas, f"device {device.id}")
    for option in needling.anaesthesia:
        sources_of(f"anaesthesia {option.id}", option)
        need("ingredient", option.ingredients, kb.ingredients, f"anaesthesia {option.id}")
        _check_number_or_policy(
            kb, option.max_area_cm2, f"anaesthesia {option.id}.max_area_cm2", problems
        )
    for region in needling.body_regions:
        sources_of(f"body region {region.id}", region)
    for indication in needling.indications:
        for depth in (
            indication.by_severity.mild,
            indication.by_severity.moderate,
            indication.by_severity.severe,
        ):
            if isinstance(depth, str):
                _check_depth_policy(kb, indication.concern, depth, indication.range_mm, problems)
    for scar in needling.scar_types:
        sources_of(f"scar type {scar.id}", scar)
        need("condition", scar.implies, kb.vocabulary["conditions"], f"scar type {scar.id}")
    for statement in [
        *needling.endpoints,
        needling.open_skin,
        needling.anaesthesia_removal,
        needling.anaesthesia_surface,
        needling.body_surface,
    ]:
        sources_of("needling", statement)
    for course in kb.courses:
        sources_of(f"course {course.id}", course)
        need("concern", course.concerns, kb.concerns, f"course {course.id}")
        need("product", course.products or [], kb.products, f"course {course.id}")
    for item in kb.care:
        sources_of(f"care {item.id}", item)
        need("area", item.areas or [], kb.areas, f"care {item.id}")
    for where, ids in sourced:
        need("reference", ids, kb.references, where)
    need("policy", ENGINE_POLICIES, kb.policies, "the engine")
    _check_coverage(kb, problems)


def _check_number_or_policy(
    kb: KnowledgeBase, value: float | str, where: str, problems: list[str]
) -> None:
    if isinstance(value, str):
        name = value.removeprefix("policy.")
        if not value.startswith("policy.") or name not in kb.policies:
            problems.append(f"{where}: '{value}' is not a number or a known policy")


def _check_depth_policy(
    kb: KnowledgeBase, concern: str, depth: str, within: Range, problems: list[str]
) -> None:
    where = f"needling indication {concern}"
    policy = kb.policies.get(depth.removeprefix("policy."))
    if policy is None:
        problems.append(f"{where}: '{depth}' is not a known policy")
    elif not within.min <= policy.range.min <= policy.range.max <= within.max:
        problems.append(f"{where}: the range of {depth} lies outside range_mm")


def _device_kinds(kb: KnowledgeBase) -> list[str]:
    """The devices a rule may bind alone: the radiofrequency needling device."""
    radio = kb.needling.radiofrequency
    return [] if radio is None else [radio.id]


def _check_treated_skin(kb: KnowledgeBase, rule: Rule, problems: list[str]) -> None:
    """An absolute rule about the skin of the treated area binds every modality: all of
    them pierce that skin."""
    if rule.severity is not Severity.ABSOLUTE or rule.ingredients:
        return
    skin = {item.id for item in kb.screening.conditions if item.treated_skin}
    read = {
        node.fact.removeprefix("conditions.")
        for node in walk(rule.when)
        if isinstance(node, Comparison) and node.fact.startswith("conditions.")
    }
    spared = [m for m in PIERCING if m not in rule.modalities]
    if read & skin and spared:
        problems.append(
            f"rule {rule.id}: it reads the treated skin ({', '.join(sorted(read & skin))}), "
            f"which {', '.join(spared)} pierces too: bind every modality"
        )


def _check_condition(kb: KnowledgeBase, rule: Rule, problems: list[str]) -> None:
    where = f"rule {rule.id}.when"
    _check_treated_skin(kb, rule, problems)
    for node in walk(rule.when):
        if isinstance(node, Predicate) and node.name not in PREDICATES:
            problems.append(
                f"{where}: unknown predicate '{node.name}'{did_you_mean(node.name, PREDICATES)}"
            )
        if not isinstance(node, Comparison):
            continue
        fact_type = kb.facts.get(node.fact)
        if fact_type is None:
            problems.append(
                f"{where}: unknown fact '{node.fact}'{did_you_mean(node.fact, kb.facts)}"
            )
            continue
        value = node.value
        if isinstance(value, PolicyRef) and value.name not in kb.policies:
            problems.append(
                f"{where}: unknown policy '{value.name}'{did_you_mean(value.name, kb.policies)}"
            )
        numeric = isinstance(value, float | PolicyRef) and not isinstance(value, bool)
        if fact_type is FactType.BOOLEAN and not isinstance(value, bool):
            problems.append(f"{where}: '{node.fact}' is true or false, compare it with 'is'")
        elif fact_type is FactType.NUMBER and not numeric:
            problems.append(f"{where}: '{node.fact}' is a number, compare it with a number")
        elif fact_type is FactType.DATE:
            problems.append(f"{where}: '{node.fact}' is a date; compare its *_days_ago fact")
        elif fact_type is FactType.WORD and not isinstance(value, str):
            problems.append(f"{where}: '{node.fact}' is a word, compare it with a word")
    temporary = rule.temporary
    if temporary is not None and temporary.from_fact is not None:
        if kb.facts.get(temporary.from_fact) is not FactType.DATE:
            problems.append(
                f"rule {rule.id}.temporary.from_fact: '{temporary.from_fact}' is not a date fact"
            )
        if temporary.days is not None:
            _check_number_or_policy(kb, temporary.days, f"rule {rule.id}.temporary.days", problems)


def _check_coverage(kb: KnowledgeBase, problems: list[str]) -> None:
    """Each concern a modality addresses needs a course (on needled skin: the needling's),
    and needling a depth."""
    depth_for = {indication.concern for indication in kb.needling.indications}
    for concern in kb.concerns.values():
        for fit in concern.addressed_by:
            if fit.on_needled_skin:
                continue  # given in the combined sitting, at the needling's pace
            if not any(c.modality == fit.modality and concern.id in c.concerns for c in kb.courses):
                problems.append(f"concern {concern.id}: no {fit.modality} course template")
            if fit.modality == Modality.MICRONEEDLING and concern.id not in depth_for:
                problems.append(f"concern {concern.id}: no needling indication (depth)")
    for modality in Modality:
        if modality not in kb.modalities:
            problems.append(f"modalities: '{modality}' is not described")


def _content_hash(merged: dict[str, Any]) -> str:
    def dump(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json", by_alias=True)
        if isinstance(value, dict):
            return {str(key): dump(item) for key, item in sorted(value.items())}
        return value

    canonical = json.dumps(dump(merged), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "k-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def load_knowledge(extra_dirs: Sequence[Path] = (), *, builtin: bool = True) -> KnowledgeBase:
    """The built-in knowledge with each of `extra_dirs` layered over it, in order."""
    directories = ([BUILTIN_DIR] if builtin else []) + [Path(d) for d in extra_dirs]
    problems: list[str] = []
    layers = [_read_dir(directory, problems) for directory in directories]
    merged = _merge_layers(layers, problems)
    if problems:
        raise KnowledgeError(problems)
    kb = KnowledgeBase(
        references=merged["references"],
        areas=merged["areas"],
        concerns=merged["concerns"],
        modalities={Modality(key): value for key, value in merged["modalities"].items()},
        screening=merged["screening"],
        policies=merged["policies"],
        ingredients=merged["ingredients"],
        products=merged["products"],
        rules=tuple(merged["rules"][key] for key in sorted(merged["rules"])),
        needling=merged["needling"],
        courses=tuple(merged["courses"][key] for key in sorted(merged["courses"])),
        care=tuple(merged["care"][key] for key in sorted(merged["care"])),
        layers=tuple("built-in" if d == BUILTIN_DIR else d.name for d in directories),
        version=_content_hash(merged),
    )
    _check_references(kb, problems)
    if problems:
        raise KnowledgeError(problems)
    return kb
