"""`when` conditions over earlier answers, as authors write them in YAML.

    when: {org_type: [public_body, nhs_health]}      # answer is one of (multi: includes any of)
    when: {concern_type: {not: [none]}}               # answered, and none of these
    when: {jurisdiction: wales, org_type: nhs_health} # several keys: all must hold
    when: {any: [{harm_level: significant_harm}, {sr_child_at_risk_now: "yes"}]}
    when: {info_kind: {answered: true}}              # answered at all (false: not answered)

An unanswered question makes an atom false, so a condition never fires on a guess; the only
exception is the explicit `{answered: false}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator

Answers = Mapping[str, str | list[str]]


class Cond:
    def holds(self, answers: Answers) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def atoms(self) -> Iterator[Atom]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_data(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Atom(Cond):
    """`question` answered with one of `values` (or none of them, with `negate`). With
    `answered` set, the atom only asks whether the question has been answered at all."""

    question: str
    values: frozenset[str]
    negate: bool = False
    answered: bool | None = None

    def holds(self, answers: Answers) -> bool:
        if self.answered is not None:
            return (self.question in answers) == self.answered
        if self.question not in answers:
            return False
        given = answers[self.question]
        chosen = set(given) if isinstance(given, list) else {given}
        hit = bool(chosen & self.values)
        return not hit if self.negate else hit

    def atoms(self) -> Iterator[Atom]:
        yield self

    def to_data(self) -> Any:
        if self.answered is not None:
            return {self.question: {"answered": self.answered}}
        values = sorted(self.values)
        return {self.question: {"not": values} if self.negate else values}


@dataclass(frozen=True)
class AllOf(Cond):
    parts: tuple[Cond, ...]

    def holds(self, answers: Answers) -> bool:
        return all(part.holds(answers) for part in self.parts)

    def atoms(self) -> Iterator[Atom]:
        for part in self.parts:
            yield from part.atoms()

    def to_data(self) -> Any:
        return {"all": [part.to_data() for part in self.parts]}


@dataclass(frozen=True)
class AnyOf(Cond):
    parts: tuple[Cond, ...]

    def holds(self, answers: Answers) -> bool:
        return any(part.holds(answers) for part in self.parts)

    def atoms(self) -> Iterator[Atom]:
        for part in self.parts:
            yield from part.atoms()

    def to_data(self) -> Any:
        return {"any": [part.to_data() for part in self.parts]}


def _values(question: str, raw: Any) -> frozenset[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) for item in items):
        raise ValueError(
            f"`when` for {question!r} must list answer ids as text "
            f"(quote yes/no: \"yes\"), got {raw!r}"
        )
    return frozenset(items)


def parse_condition(raw: Any) -> Cond:
    if isinstance(raw, Cond):
        return raw
    if not isinstance(raw, dict) or not raw:
        raise ValueError("`when` must be a mapping of question id to answer id(s)")
    parts: list[Cond] = []
    for key, value in raw.items():
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"`{key}` takes a list of conditions")
            inner = tuple(parse_condition(item) for item in value)
            parts.append(AnyOf(inner) if key == "any" else AllOf(inner))
        elif isinstance(value, dict):
            if set(value) == {"answered"} and isinstance(value["answered"], bool):
                parts.append(Atom(str(key), frozenset(), answered=value["answered"]))
                continue
            if set(value) != {"not"}:
                raise ValueError(f"`when` for {key!r}: only `not:` or `answered: true|false` "
                                 "is allowed inside a mapping")
            parts.append(Atom(str(key), _values(key, value["not"]), negate=True))
        else:
            parts.append(Atom(str(key), _values(key, value)))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


Condition = Annotated[
    Cond,
    PlainValidator(parse_condition),
    PlainSerializer(lambda cond: cond.to_data(), return_type=Any),
]
