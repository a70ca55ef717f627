"""Which answers the flows tell apart, and what a path through them is.

Paths differ only where the flows tell answers apart. Two answers to a question are the same
path when every *deciding* condition (routing branches, record-then-refer, outcomes an answer
adds, implied answers, "don't tell the family first", extras that set a consent position, an
alert or a family line) gives the same result for both, given the answers already on the
path: a condition that earlier answers have already settled no longer splits anything. So
"Doctor" and "Nurse" are one path where nothing routes on the difference, and a multi-select
with 16 options yields only the combinations that behave differently.

The other answers of a group are kept as `PathStep.alternatives`: they can differ only in
*decoration* (gateways, rules, notes and wording added by extras), which the invariant tests
check for every alternative at each outcome. `decoration=True` splits on those too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from bot.core.engine import AnswerValue, Held, Position
from bot.flows.conditions import AllOf, AnyOf, Atom, Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Extra, Outcome, Question, Target


@dataclass(frozen=True, slots=True)
class PathStep:
    """One answer on a path. `alternatives` are the other answers that go exactly the same way
    (for a multi-select, other combinations, kept only when a `ChoiceTable` is asked to)."""

    flow: str
    node: str
    key: str
    answer: AnswerValue
    alternatives: tuple[AnswerValue, ...] = ()

    @property
    def shown(self) -> str:
        """`a/b/c` where several answers lead to exactly the same place and result."""
        if isinstance(self.answer, list):
            return "+".join(self.answer)
        return "/".join((self.answer, *self.alternatives))  # type: ignore[arg-type]

    @property
    def members(self) -> tuple[AnswerValue, ...]:
        return (self.answer, *self.alternatives)


@dataclass(frozen=True)
class FlowPath:
    steps: tuple[PathStep, ...]
    end: Position
    handover: bool = False
    held: tuple[Held, ...] = ()

    @property
    def answers(self) -> dict[str, AnswerValue]:
        return {step.key: step.answer for step in self.steps}

    def describe(self) -> str:
        parts = [f"{s.key}={s.shown}" for s in self.steps]
        end = f"-> flow {self.end.flow}" if self.handover else f"-> {self.end.node}"
        return " > ".join(parts) + f" {end}"


def hashable(value: AnswerValue | None) -> Any:
    """An answer as a dictionary key: a multi-select's list becomes a tuple."""
    return tuple(value) if isinstance(value, list) else value


def cond_keys(cond: Cond) -> set[str]:
    return {a.question for a in cond.atoms()}


# --- which conditions decide -----------------------------------------------------------------
def outcomes(bundle: FlowBundle) -> Iterator[Outcome]:
    yield from bundle.shared.outcomes
    for flow in bundle.flows.values():
        yield from (n for n in flow.nodes if isinstance(n, Outcome))


def _all_extras(bundle: FlowBundle) -> Iterator[Extra]:
    yield from bundle.shared.always
    for extras in bundle.shared.extra_sets.values():
        yield from extras
    for outcome in outcomes(bundle):
        yield from outcome.extras


def deciding(extra: Extra) -> bool:
    """An extra that changes what the answer *is* (consent, alert, family line), not only what
    it cites or says."""
    return bool(extra.set_consent_position or extra.set_dsl_alert or extra.set_tell_family)


def multi_keys(bundle: FlowBundle) -> frozenset[str]:
    return frozenset(q.key for f in bundle.flows.values() for q in f.nodes
                     if isinstance(q, Question) and q.multi)


@dataclass(frozen=True)
class _Group:
    """Conditions that are read together: a first-match branch list (with its targets), or one
    condition on its own."""

    conds: tuple[Cond, ...]
    targets: tuple[Any, ...] = ()
    first_match: bool = False


def _target(target: Target) -> tuple:
    return (target.next, target.goto_flow, target.at)


def condition_groups(
    bundle: FlowBundle, decoration: bool = False, extra: Iterable[Cond] = ()
) -> list[_Group]:
    """Every condition that can tell answers apart, grouped as the engine reads them."""
    groups: list[_Group] = []
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if not isinstance(node, Question):
                continue
            if node.branches:
                groups.append(_Group(tuple(b.when for b in node.branches),
                                     tuple(_target(b) for b in node.branches), True))
            for choice in node.choices:
                if choice.branches:
                    groups.append(_Group(tuple(b.when for b in choice.branches),
                                         tuple(_target(b) for b in choice.branches), True))
    c = bundle.conventions
    for rule in [*c.implications, *c.raises, *c.record_then_refer]:
        groups.append(_Group((rule.when,)))
    if c.dont_tell_family is not None:
        groups.append(_Group((c.dont_tell_family.when,)))
    multi = multi_keys(bundle)
    for item in _all_extras(bundle):
        if decoration or deciding(item) or any(a.question in multi for a in item.when.atoms()):
            groups.append(_Group((item.when,)))
    groups.extend(_Group((cond,)) for cond in extra)
    return groups


def all_atoms(bundle: FlowBundle, decoration: bool = True) -> list[Atom]:
    return [a for g in condition_groups(bundle, decoration) for c in g.conds for a in c.atoms()]


def referenced_keys(bundle: FlowBundle) -> frozenset[str]:
    return frozenset(atom.question for atom in all_atoms(bundle))


# --- telling answers apart, given the answers so far -------------------------------------------
def _residual(cond: Cond, known: Mapping[str, AnswerValue], key: str, value: AnswerValue) -> Any:
    """`cond` with `key=value` and the `known` answers substituted: True, False, or what is
    left to decide (a hashable form). Keys not known yet stay open."""
    if isinstance(cond, Atom):
        if cond.question == key:
            return cond.holds({key: value})
        if cond.question in known:
            return cond.holds(known)
        return ("?", cond.question, cond.values, cond.negate, cond.answered)
    parts = [_residual(p, known, key, value) for p in cond.parts]  # type: ignore[attr-defined]
    if isinstance(cond, AllOf):
        if any(p is False for p in parts):
            return False
        open_parts = tuple(p for p in parts if p is not True)
        return True if not open_parts else open_parts[0] if len(open_parts) == 1 else ("all", open_parts)
    assert isinstance(cond, AnyOf)
    if any(p is True for p in parts):
        return True
    open_parts = tuple(p for p in parts if p is not False)
    return False if not open_parts else open_parts[0] if len(open_parts) == 1 else ("any", open_parts)


def _signature(groups: list[_Group], known: Mapping[str, AnswerValue], key: str,
               value: AnswerValue) -> tuple:
    sig = []
    for group in groups:
        if group.first_match:
            row = []
            for cond, target in zip(group.conds, group.targets, strict=True):
                result = _residual(cond, known, key, value)
                if result is False:
                    continue
                row.append((result, target))
                if result is True:
                    break
            sig.append(tuple(row))
        else:
            sig.append(_residual(group.conds[0], known, key, value))
    return tuple(sig)


def _combination_classes(question: Question, atoms: list[Atom]) -> list[list[str]]:
    """The first combination (by size, then choice order) of each class of combinations with
    the same truth on every atom. An atom's truth depends only on whether the combination
    hits its values, so a combination's class is the union of its answers' hit masks."""
    ids = [c.id for c in question.choices]
    exclusive = {c.id for c in question.choices if c.exclusive}
    hits = {i: sum(1 << n for n, atom in enumerate(atoms) if i in atom.values) for i in ids}
    seen: dict[int, list[str]] = {}
    for size in range(1, len(ids) + 1):
        for combo in combinations(ids, size):
            if size > 1 and not exclusive.isdisjoint(combo):
                continue
            mask = 0
            for answer in combo:
                mask |= hits[answer]
            if mask not in seen:
                seen[mask] = list(combo)
    return list(seen.values())


class ChoiceTable:
    """The answers worth trying at a question, given the answers so far: one representative
    per group of answers that nothing deciding tells apart (cached per relevant context).

    A multi-select's other combinations are dropped, unless `multi_atoms` are given: then its
    combinations are told apart on those atoms too, and those a group merges are kept as its
    alternatives (so a caller can see every combination that goes one way)."""

    def __init__(self, bundle: FlowBundle, decoration: bool = False, extra: Iterable[Cond] = (),
                 multi_atoms: Iterable[Atom] = ()):
        self.bundle = bundle
        self.groups = condition_groups(bundle, decoration, extra)
        self.multi_atoms = tuple(multi_atoms)
        self._by_key: dict[str, list[_Group]] = {}
        self._context: dict[str, tuple[str, ...]] = {}
        self._coarse: dict[tuple[str, str], list[list[str]]] = {}
        self._cache: dict[tuple, list[tuple[AnswerValue, tuple[AnswerValue, ...]]]] = {}

    def _groups_for(self, key: str) -> tuple[list[_Group], tuple[str, ...]]:
        if key not in self._by_key:
            mine = [g for g in self.groups
                    if any(a.question == key for c in g.conds for a in c.atoms())]
            self._by_key[key] = mine
            self._context[key] = tuple(sorted({a.question for g in mine for c in g.conds
                                               for a in c.atoms()} - {key}))
        return self._by_key[key], self._context[key]

    def _multi_candidates(self, flow: str, question: Question, groups: list[_Group]) -> list[list[str]]:
        """One representative per class of combinations with the same truth on every atom
        (exact in any context); the context then merges classes further."""
        cache_key = (flow, question.id)
        if cache_key not in self._coarse:
            atoms = [a for g in groups for c in g.conds for a in c.atoms() if a.question == question.key]
            atoms += [a for a in self.multi_atoms if a.question == question.key]
            self._coarse[cache_key] = _combination_classes(question, atoms)
        return self._coarse[cache_key]

    def choices(self, flow: str, question: Question,
                facts: Mapping[str, AnswerValue]) -> list[tuple[AnswerValue, tuple[AnswerValue, ...]]]:
        groups, context = self._groups_for(question.key)
        cache_key = (flow, question.id, tuple(hashable(facts.get(k)) for k in context))
        hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        known = {k: facts[k] for k in context if k in facts}
        buckets: dict[tuple, list[AnswerValue]] = {}
        if question.multi:
            for combo in self._multi_candidates(flow, question, groups):
                route = (_target(question),) + _signature(
                    [_Group(tuple(b.when for b in question.branches),
                            tuple(_target(b) for b in question.branches), True)],
                    known, question.key, combo)
                buckets.setdefault(route + _signature(groups, known, question.key, combo),
                                   []).append(combo)
            keep = bool(self.multi_atoms)
            result = [(members[0], tuple(members[1:]) if keep else ()) for members in buckets.values()]
        else:
            for choice in question.choices:
                own = _Group(tuple(b.when for b in choice.branches),
                             tuple(_target(b) for b in choice.branches), True)
                route = (_target(choice),) + _signature([own], known, question.key, choice.id)
                buckets.setdefault(route + _signature(groups, known, question.key, choice.id),
                                   []).append(choice.id)
            result = [(ids[0], tuple(ids[1:])) for ids in buckets.values()]
        self._cache[cache_key] = result  # type: ignore[assignment]
        return result  # type: ignore[return-value]
