"""Every path through a flow, for reviewers, the checker and the safety-invariant tests.

Multi-select questions would multiply paths by 2^n; only the combinations that matter are
enumerated: two sets of options are the same for the flows when every `when` atom over that
question (plus any atoms a caller cares about) gives the same result for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import combinations

from bot.engine import AnswerValue, Engine, Position
from bot.flows.conditions import Atom
from bot.flows.loader import FlowBundle
from bot.flows.schema import Outcome, Question


@dataclass(frozen=True)
class PathStep:
    flow: str
    node: str
    key: str
    answer: AnswerValue


@dataclass(frozen=True)
class FlowPath:
    steps: tuple[PathStep, ...]
    end: Position
    handover: bool = False

    @property
    def answers(self) -> dict[str, AnswerValue]:
        return {step.key: step.answer for step in self.steps}

    def describe(self) -> str:
        parts = [
            f"{s.key}={'+'.join(s.answer) if isinstance(s.answer, list) else s.answer}"
            for s in self.steps
        ]
        end = f"-> flow {self.end.flow}" if self.handover else f"-> {self.end.node}"
        return " > ".join(parts) + f" {end}"


class PathLimitExceeded(Exception):
    pass


@dataclass
class Coverage:
    """Which transitions and outcome extras the enumeration used (for 'never true' checks)."""

    routes: set[tuple[str, str, str]] = field(default_factory=set)
    extras: set[tuple[str, int]] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)
    repeated_keys: set[tuple[str, str, str]] = field(default_factory=set)


def all_atoms(bundle: FlowBundle) -> list[Atom]:
    atoms: list[Atom] = []
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question):
                for branch in node.branches:
                    atoms.extend(branch.when.atoms())
                for choice in node.choices:
                    for branch in choice.branches:
                        atoms.extend(branch.when.atoms())
    extras = [*bundle.shared.always, *(e for s in bundle.shared.extra_sets.values() for e in s)]
    for outcome in outcomes(bundle):
        extras.extend(outcome.extras)
    for extra in extras:
        atoms.extend(extra.when.atoms())
    return atoms


def outcomes(bundle: FlowBundle) -> Iterator[Outcome]:
    yield from bundle.shared.outcomes
    for flow in bundle.flows.values():
        yield from (n for n in flow.nodes if isinstance(n, Outcome))


def multi_choices(question: Question, atoms: Iterable[Atom]) -> list[list[str]]:
    """One representative (the smallest) of each class of equivalent multi-select answers."""
    relevant = [a for a in atoms if a.question == question.key]
    ids = [c.id for c in question.choices]
    exclusive = {c.id for c in question.choices if c.exclusive}
    seen: dict[tuple[bool, ...], list[str]] = {}
    for size in range(1, len(ids) + 1):
        for combo in combinations(ids, size):
            if size > 1 and exclusive & set(combo):
                continue
            answers = {question.key: list(combo)}
            seen.setdefault(tuple(a.holds(answers) for a in relevant), list(combo))
    return list(seen.values())


def enumerate_paths(
    bundle: FlowBundle,
    flow_id: str | None = None,
    *,
    follow: bool = True,
    limit: int = 400_000,
    coverage: Coverage | None = None,
    extra_atoms: Iterable[Atom] = (),
    start_at: str | None = None,
    preset: dict[str, AnswerValue] | None = None,
) -> Iterator[FlowPath]:
    """Depth-first, in choice order. `follow=False` stops at hand-overs to other flows."""
    engine = Engine(bundle)
    atoms = all_atoms(bundle) + list(extra_atoms)
    flow_id = flow_id or bundle.entry
    start = Position(flow=flow_id, node=start_at or bundle.flows[flow_id].start)

    @cache
    def choices_for(flow: str, node: str) -> list[AnswerValue]:
        question = bundle.node(flow, node)
        assert isinstance(question, Question)
        if question.multi:
            return list(multi_choices(question, atoms))
        return [c.id for c in question.choices]

    count = 0
    stack: list[tuple[Position, tuple[PathStep, ...], dict[str, AnswerValue]]] = [
        (start, (), dict(preset or {}))
    ]
    while stack:
        position, steps, answers = stack.pop()
        node = bundle.node(position.flow, position.node)
        if isinstance(node, Outcome):
            count += 1
            if count > limit:
                raise PathLimitExceeded(f"more than {limit} paths from {flow_id}")
            if coverage is not None:
                coverage.outcomes.add(node.id)
                for index, extra in enumerate(bundle.extras_for(node)):
                    if extra.when.holds(answers):
                        coverage.extras.add((node.id, index))
            yield FlowPath(steps, position)
            continue
        assert isinstance(node, Question), position
        if node.key in answers and coverage is not None:
            coverage.repeated_keys.add((position.flow, node.id, node.key))
        pending = []
        for value in choices_for(position.flow, position.node):
            new_answers = {**answers, node.key: value}
            target, label = engine.route(node, value, new_answers)
            if coverage is not None:
                coverage.routes.add((position.flow, node.id, label))
            new_steps = (*steps, PathStep(position.flow, node.id, node.key, value))
            nxt = engine.resolve_target(position.flow, target)
            if target.goto_flow and not follow:
                count += 1
                yield FlowPath(new_steps, nxt, handover=True)
                continue
            pending.append((nxt, new_steps, new_answers))
        stack.extend(reversed(pending))
