"""Every path through a flow, for reviewers, the checker and the safety-invariant tests.

`enumerate_paths` lists paths one by one (the reviewer's document, `flows paths`); the
memoised walk (`bot.analysis.dag`) counts and checks millions of them once per distinct state;
`bot.analysis.grouping` says which answers are the same path; `bot.analysis.routes` compares routes
(INV14). This module is the one place callers import them from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bot.analysis.dag import Coverage, End, Walk, downstream_keys, explore, walk
from bot.analysis.grouping import (
    ChoiceTable,
    FlowPath,
    PathStep,
    all_atoms,
    condition_groups,
    deciding,
    outcomes,
    referenced_keys,
)
from bot.analysis.routes import RoutePairs, askable_keys, route_pairs
from bot.core.engine import AnswerValue, Engine, Held, Position
from bot.flows.conditions import Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Outcome, Question

__all__ = [
    "ChoiceTable", "Coverage", "End", "FlowPath", "PathLimitExceeded", "PathStep", "RoutePairs",
    "Walk", "all_atoms", "askable_keys", "condition_groups", "deciding", "downstream_keys",
    "enumerate_paths", "explore", "outcomes", "referenced_keys", "route_pairs", "walk",
]


class PathLimitExceeded(Exception):
    pass


def enumerate_paths(
    bundle: FlowBundle,
    flow_id: str | None = None,
    *,
    follow: bool = True,
    limit: int = 2_000_000,
    extra_conditions: Iterable[Cond] = (),
    decoration: bool = False,
    start_at: str | None = None,
    preset: dict[str, AnswerValue] | None = None,
) -> Iterator[FlowPath]:
    """Depth-first, in choice order. `follow=False` stops at hand-overs to other flows (and at
    record-then-refer hand-overs). `extra_conditions` are conditions a caller reads (an
    invariant) that must also tell answers apart."""
    engine = Engine(bundle)
    table = ChoiceTable(bundle, decoration, extra_conditions)
    flow_id = flow_id or bundle.entry
    start = Position(flow=flow_id, node=start_at or bundle.flows[flow_id].start)

    count = 0
    answers0 = dict(preset or {})
    first, held0 = engine.settle(start, answers0, (), 0)
    stack: list[tuple[Position, tuple[PathStep, ...], dict[str, AnswerValue], tuple[Held, ...]]] = [
        (first, (), answers0, held0)
    ]
    while stack:
        position, steps, answers, held = stack.pop()
        node = bundle.node(position.flow, position.node)
        if isinstance(node, Outcome):
            count += 1
            if count > limit:
                raise PathLimitExceeded(f"more than {limit} paths from {flow_id}")
            yield FlowPath(steps, position, held=held)
            continue
        assert isinstance(node, Question), position
        pending = []
        facts = engine.facts(answers)
        for value, alternatives in table.choices(position.flow, node, facts):
            new_answers = {**answers, node.key: value}
            new_facts = engine.facts(new_answers)
            target, _ = engine.route(node, value, new_facts)
            step = PathStep(position.flow, node.id, node.key, value, alternatives)
            new_steps = (*steps, step)
            if target.goto_flow and not follow:
                count += 1
                yield FlowPath(new_steps, engine.resolve_target(position.flow, target),
                               handover=True, held=held)
                continue
            nxt, new_held = engine.settle(engine.resolve_target(position.flow, target),
                                          new_answers, held, len(new_steps), new_facts)
            if new_held != held and not follow:  # record-then-refer hands over to a core
                count += 1
                yield FlowPath(new_steps, nxt, handover=True, held=new_held)
                continue
            pending.append((nxt, new_steps, new_answers, new_held))
        stack.extend(reversed(pending))


