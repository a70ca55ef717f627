"""INV14 route independence: the same answers to the deciding questions, reached by different
routes (route-only answers such as "what do you need help with?"), give the same verdict.

For every route-only question on a path from the entry flow, each pair of its answers that
lead to different places is walked jointly, both continuations together, keeping only paths
with the same answers; they either meet (one continuation from then on) or are compared at
their ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.analysis.grouping import ChoiceTable, cond_keys
from bot.core.engine import AnswerValue, Engine, Position
from bot.flows.conditions import Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Outcome, Question


def askable_keys(
    bundle: FlowBundle,
) -> dict[tuple[str, str], tuple[frozenset[str], dict[str, frozenset[str]]]]:
    """Per node: the keys a question reachable from there asks (including after a
    record-then-refer hand-over), and the values an implication could still give other keys.
    At an outcome nothing more can be answered."""
    rules = bundle.conventions.implications
    targets = [(r.goto_flow, r.at or bundle.flows[r.goto_flow].start)
               for r in bundle.conventions.record_then_refer
               if r.goto_flow and r.goto_flow in bundle.flows]
    memo: dict[tuple[str, str], frozenset[str]] = {}

    def direct(flow_id: str, node_id: str) -> frozenset[str]:
        if (flow_id, node_id) in memo:
            return memo[(flow_id, node_id)]
        memo[(flow_id, node_id)] = frozenset()
        node = bundle.node(flow_id, node_id)
        found: set[str] = set()
        if isinstance(node, Question):
            found.add(node.key)
            for target in node.targets():
                if target.goto_flow and target.goto_flow in bundle.flows:
                    flow = bundle.flows[target.goto_flow]
                    found |= direct(flow.id, target.at or flow.start)
                elif target.next:
                    found |= direct(flow_id, target.next)
        memo[(flow_id, node_id)] = frozenset(found)
        return memo[(flow_id, node_id)]

    rr: set[str] = set()
    for flow, at in targets:
        rr |= direct(flow, at)
    result = {}
    for node in bundle.all_nodes():
        if isinstance(bundle.node(*node), Outcome):
            result[node] = (frozenset(), {})
            continue
        keys = direct(*node) | rr
        implied: dict[str, set[str]] = {}
        for rule in rules:
            if cond_keys(rule.when) & keys:
                for k, v in rule.implies.items():
                    implied.setdefault(k, set()).add(v)
        result[node] = (frozenset(keys), {k: frozenset(v) for k, v in implied.items()})
    return result


@dataclass
class RoutePairs:
    """Paths with the same answers (route-only keys left out) reached by different routes."""

    compared: int = 0      # pairs of distinct ends compared
    shared: int = 0        # meetings at a node with the same answers: one continuation
    differing: list[str] = field(default_factory=list)


def route_pairs(bundle: FlowBundle, route_only: Iterable[str], *,
                result: Any, extra_conditions: Iterable[Cond] = ()) -> RoutePairs:
    """Walk, for every route-only question on a path from the entry flow, each pair of its
    answers that lead to different places, both continuations together: every key one side
    answers, the other side must answer the same way (or can never have), so the walk only
    follows paths with the same answers. `result(step)` is what must be equal at the end."""
    engine = Engine(bundle)
    table = ChoiceTable(bundle, False, extra_conditions)
    askable = askable_keys(bundle)
    route_only = frozenset(route_only)
    found = RoutePairs()
    seen_single: set[tuple] = set()
    seen_joint: set[tuple] = set()

    def node_of(position: Position) -> Question | Outcome | None:
        return bundle.node(position.flow, position.node)

    def canonical(facts: Mapping[str, AnswerValue]) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in facts.items() if k not in route_only))

    def can_have(position: Position, key: str, value: AnswerValue) -> bool:
        direct, implied = askable.get((position.flow, position.node)) or askable.get(
            ("", position.node), (frozenset(), {}))
        return key in direct or str(value) in implied.get(key, frozenset())

    def single(position: Position, answers: dict, held: tuple) -> None:
        state = (position, canonical(answers), tuple(h.outcome for h in held))
        if state in seen_single:
            return
        seen_single.add(state)
        node = bundle.node(position.flow, position.node)
        if not isinstance(node, Question):
            return
        direct, _ = askable.get((position.flow, position.node), (frozenset(), {}))
        if not direct & route_only:
            return  # no route-only question ahead: nothing to compare from here
        facts = engine.facts(answers)
        options = table.choices(position.flow, node, facts)
        if node.key in route_only:
            moves = []
            for value, _ in options:
                new_answers = {**answers, node.key: value}
                moves.append(engine.advance(position.flow, node, value, new_answers, held, 1)
                             + (new_answers,))
            for i, (pos_a, held_a, ans_a) in enumerate(moves):
                for pos_b, held_b, ans_b in moves[i + 1:]:
                    joint((pos_a, ans_a, held_a), (pos_b, ans_b, held_b))
        for value, _ in options:
            new_answers = {**answers, node.key: value}
            nxt, new_held = engine.advance(position.flow, node, value, new_answers, held, 1)
            single(nxt, new_answers, new_held)

    def joint(a: tuple, b: tuple) -> None:
        (pos_a, ans_a, held_a), (pos_b, ans_b, held_b) = a, b
        facts_a, facts_b = engine.facts(ans_a), engine.facts(ans_b)
        key = (pos_a, pos_b, canonical(ans_a), canonical(ans_b),
               tuple(h.outcome for h in held_a), tuple(h.outcome for h in held_b))
        if key in seen_joint:
            return
        seen_joint.add(key)
        if pos_a == pos_b and held_a == held_b and canonical(ans_a) == canonical(ans_b):
            found.shared += 1
            return
        # a fact one side has and the other can never come to have (or has differently)
        for mine, pos_other, other in ((facts_a, pos_b, facts_b), (facts_b, pos_a, facts_a)):
            for k, v in mine.items():
                if k in route_only:
                    continue
                if k in other:
                    if str(other[k]) != str(v):
                        return
                elif not can_have(pos_other, k, v):
                    return
        node_a, node_b = bundle.node(pos_a.flow, pos_a.node), bundle.node(pos_b.flow, pos_b.node)
        if isinstance(node_a, Outcome) and isinstance(node_b, Outcome):
            if canonical(facts_a) != canonical(facts_b):
                return
            found.compared += 1
            result_a = result(engine.conclude(pos_a, ans_a, held_a))
            result_b = result(engine.conclude(pos_b, ans_b, held_b))
            if result_a != result_b:
                found.differing.append(
                    f"{pos_a.node} {result_a} vs {pos_b.node} {result_b} for {dict(canonical(facts_a))}")
            return
        # move a side at a question: first one whose key the other side has (no choice to
        # make), so the two sides stay in step
        sides = [(0, (pos_a, ans_a, held_a, facts_a), facts_b),
                 (1, (pos_b, ans_b, held_b, facts_b), facts_a)]
        sides.sort(key=lambda s: (0 if isinstance(node_of(s[1][0]), Question)
                                  and node_of(s[1][0]).key in s[2] else 1, len(s[1][1])))
        for side, (pos, ans, held, facts), other in sides:
            node = bundle.node(pos.flow, pos.node)
            if not isinstance(node, Question):
                continue
            if node.key in other:
                values = [(other[node.key], ())]
                if not engine._offers(node, other[node.key]):
                    return
            else:
                values = table.choices(pos.flow, node, facts)
            for value, _ in values:
                new_ans = {**ans, node.key: value}
                nxt, new_held = engine.advance(pos.flow, node, value, new_ans, held, 1)
                moved = (nxt, new_ans, new_held)
                joint(moved, b) if side == 0 else joint(a, moved)
            return

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        entry = bundle.flows[bundle.entry]
        single(Position(flow=entry.id, node=entry.start), {}, ())
    finally:
        sys.setrecursionlimit(old)
    return found
