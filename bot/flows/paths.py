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

from bot.core.engine import AnswerValue, Engine, Position
from bot.flows.conditions import Atom
from bot.flows.loader import FlowBundle
from bot.flows.schema import Outcome, Question


@dataclass(frozen=True)
class PathStep:
    flow: str
    node: str
    key: str
    answer: AnswerValue
    alternatives: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        """`a/b/c` where several answers lead to exactly the same place and result."""
        if isinstance(self.answer, list):
            return "+".join(self.answer)
        return "/".join((self.answer, *self.alternatives))


@dataclass(frozen=True)
class FlowPath:
    steps: tuple[PathStep, ...]
    end: Position
    handover: bool = False

    @property
    def answers(self) -> dict[str, AnswerValue]:
        return {step.key: step.answer for step in self.steps}

    def describe(self) -> str:
        parts = [f"{s.key}={s.shown}" for s in self.steps]
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


def single_choices(question: Question, atoms: Iterable[Atom]) -> list[tuple[str, tuple[str, ...]]]:
    """Group a question's answers that no condition tells apart and that route identically:
    (representative, other answers in the group)."""
    relevant = [a for a in atoms if a.question == question.key]
    groups: dict[tuple, list[str]] = {}
    for choice in question.choices:
        routing = (
            choice.next, choice.goto_flow, choice.at,
            tuple((repr(b.when.to_data()), b.next, b.goto_flow, b.at) for b in choice.branches),
        )
        truth = tuple(a.holds({question.key: choice.id}) for a in relevant)
        groups.setdefault((routing, truth), []).append(choice.id)
    return [(ids[0], tuple(ids[1:])) for ids in groups.values()]


def choice_table(bundle: FlowBundle, atoms: list[Atom]):
    """Per question node, the answers worth trying: (answer, answers equivalent to it)."""

    @cache
    def choices_for(flow: str, node_id: str) -> list[tuple[AnswerValue, tuple[str, ...]]]:
        question = bundle.node(flow, node_id)
        assert isinstance(question, Question)
        if question.multi:
            return [(v, ()) for v in multi_choices(question, atoms)]
        return single_choices(question, atoms)

    return choices_for


def referenced_keys(bundle: FlowBundle) -> frozenset[str]:
    return frozenset(atom.question for atom in all_atoms(bundle))


def explore(bundle: FlowBundle, flow_id: str, coverage: Coverage) -> int:
    """Visit every reachable (node, answers-that-conditions-read) state once, recording which
    branches and extras can fire. Exact for coverage, and far cheaper than listing paths,
    because two partial paths that agree on every answer a condition reads have the same
    future. Returns the number of states visited."""
    engine = Engine(bundle)
    atoms = all_atoms(bundle)
    keys = referenced_keys(bundle)
    seen: set[tuple[Position, tuple]] = set()
    start = Position(flow=flow_id, node=bundle.flows[flow_id].start)
    choices_for = choice_table(bundle, atoms)

    stack: list[tuple[Position, dict[str, AnswerValue]]] = [(start, {})]
    while stack:
        position, answers = stack.pop()
        state_key = (position, tuple(sorted((k, str(v)) for k, v in answers.items())))
        if state_key in seen:
            continue
        seen.add(state_key)
        node = bundle.node(position.flow, position.node)
        if isinstance(node, Outcome):
            coverage.outcomes.add(node.id)
            for index, extra in enumerate(bundle.extras_for(node)):
                if extra.when.holds(answers):
                    coverage.extras.add((node.id, index))
            continue
        assert isinstance(node, Question), position
        for value, alternatives in choices_for(position.flow, position.node):
            new_answers = {**answers, node.key: value}
            target, label = engine.route(node, value, new_answers)
            for alt in alternatives:
                alt_label = label.replace(f"{value}:", f"{alt}:", 1)
                coverage.routes.add((position.flow, node.id, alt_label))
            coverage.routes.add((position.flow, node.id, label))
            kept = {k: v for k, v in new_answers.items() if k in keys}
            stack.append((engine.resolve_target(position.flow, target), kept))
    return len(seen)


def enumerate_paths(
    bundle: FlowBundle,
    flow_id: str | None = None,
    *,
    follow: bool = True,
    limit: int = 400_000,
    extra_atoms: Iterable[Atom] = (),
    start_at: str | None = None,
    preset: dict[str, AnswerValue] | None = None,
) -> Iterator[FlowPath]:
    """Depth-first, in choice order. `follow=False` stops at hand-overs to other flows."""
    engine = Engine(bundle)
    atoms = all_atoms(bundle) + list(extra_atoms)
    flow_id = flow_id or bundle.entry
    start = Position(flow=flow_id, node=start_at or bundle.flows[flow_id].start)
    choices_for = choice_table(bundle, atoms)

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
            yield FlowPath(steps, position)
            continue
        assert isinstance(node, Question), position
        pending = []
        for value, alternatives in choices_for(position.flow, position.node):
            new_answers = {**answers, node.key: value}
            target, label = engine.route(node, value, new_answers)
            step = PathStep(position.flow, node.id, node.key, value, alternatives)
            new_steps = (*steps, step)
            nxt = engine.resolve_target(position.flow, target)
            if target.goto_flow and not follow:
                count += 1
                yield FlowPath(new_steps, nxt, handover=True)
                continue
            pending.append((nxt, new_steps, new_answers))
        stack.extend(reversed(pending))
