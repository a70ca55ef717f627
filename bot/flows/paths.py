"""Every path through a flow, for reviewers, the checker and the safety-invariant tests.

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
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from bot.core.engine import AnswerValue, Engine, Held, Position
from bot.flows.conditions import AllOf, AnyOf, Atom, Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Extra, Outcome, Question, Target

_UNKNOWN = object()


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

    @property
    def members(self) -> tuple[AnswerValue, ...]:
        return (self.answer,) if isinstance(self.answer, list) else (self.answer,
                                                                      *self.alternatives)


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


class PathLimitExceeded(Exception):
    pass


@dataclass
class Coverage:
    """Which transitions and outcome extras the enumeration used (for 'never true' checks)."""

    routes: set[tuple[str, str, str]] = field(default_factory=set)
    extras: set[tuple[str, int]] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)
    tried: set[tuple] = field(default_factory=set, repr=False)


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
    multi = {q.key for f in bundle.flows.values() for q in f.nodes
             if isinstance(q, Question) and q.multi}
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


class ChoiceTable:
    """The answers worth trying at a question, given the answers so far: one representative
    per group of answers that nothing deciding tells apart (cached per relevant context)."""

    def __init__(self, bundle: FlowBundle, decoration: bool = False, extra: Iterable[Cond] = ()):
        self.bundle = bundle
        self.groups = condition_groups(bundle, decoration, extra)
        self._by_key: dict[str, list[_Group]] = {}
        self._context: dict[str, tuple[str, ...]] = {}
        self._coarse: dict[tuple[str, str], list[list[str]]] = {}
        self._cache: dict[tuple, list[tuple[AnswerValue, tuple[str, ...]]]] = {}

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
            ids = [c.id for c in question.choices]
            exclusive = {c.id for c in question.choices if c.exclusive}
            seen: dict[tuple[bool, ...], list[str]] = {}
            for size in range(1, len(ids) + 1):
                for combo in combinations(ids, size):
                    if size > 1 and exclusive & set(combo):
                        continue
                    answers = {question.key: list(combo)}
                    seen.setdefault(tuple(a.holds(answers) for a in atoms), list(combo))
            self._coarse[cache_key] = list(seen.values())
        return self._coarse[cache_key]

    def choices(self, flow: str, question: Question,
                facts: Mapping[str, AnswerValue]) -> list[tuple[AnswerValue, tuple[str, ...]]]:
        groups, context = self._groups_for(question.key)
        known = {k: facts[k] for k in context if k in facts}
        cache_key = (flow, question.id, tuple((k, str(v)) for k, v in sorted(known.items())))
        hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        buckets: dict[tuple, list[AnswerValue]] = {}
        if question.multi:
            for combo in self._multi_candidates(flow, question, groups):
                route = (_target(question),) + _signature(
                    [_Group(tuple(b.when for b in question.branches),
                            tuple(_target(b) for b in question.branches), True)],
                    known, question.key, combo)
                buckets.setdefault(route + _signature(groups, known, question.key, combo),
                                   []).append(combo)
            result = [(members[0], ()) for members in buckets.values()]
        else:
            for choice in question.choices:
                own = _Group(tuple(b.when for b in choice.branches),
                             tuple(_target(b) for b in choice.branches), True)
                route = (_target(choice),) + _signature([own], known, question.key, choice.id)
                buckets.setdefault(route + _signature(groups, known, question.key, choice.id),
                                   []).append(choice.id)
            result = [(ids[0], tuple(ids[1:])) for ids in buckets.values()]  # type: ignore[misc]
        self._cache[cache_key] = result
        return result


# --- walking ---------------------------------------------------------------------------------
def explore(bundle: FlowBundle, flow_id: str, coverage: Coverage) -> int:
    """Record which branches and extras can fire on some path from `flow_id` (for the
    checker's 'never true' reports). States are merged on the keys routing reads, so an extra
    counts as reachable when some answer could make it true (an over-approximation: a lint
    never blocks flows it cannot prove wrong). Returns the number of states visited."""
    return walk(bundle, flow_id, coverage=coverage).states


def _cover_outcome(engine: Engine, node: Outcome, held: tuple[Held, ...],
                   answers: dict[str, AnswerValue], alts: Mapping[str, tuple[AnswerValue, ...]],
                   coverage: Coverage) -> None:
    bundle = engine.bundle
    facts = engine.facts(answers)
    reached = [node, *(bundle.node(h.flow, h.outcome) for h in held)]
    reached += [bundle.shared_outcome(r.outcome) for r in bundle.conventions.raises
                if r.when.holds(facts)]
    for outcome in reached:
        if not isinstance(outcome, Outcome):
            continue
        coverage.outcomes.add(outcome.id)
        for index, extra in enumerate(bundle.extras_for(outcome)):
            if (outcome.id, index) in coverage.extras:
                continue
            keys = sorted(_cond_keys(extra.when) | engine._implying_keys)
            memo_key = (outcome.id, index, tuple((k, str(answers.get(k)), alts.get(k, ()))
                                                 for k in keys))
            if memo_key in coverage.tried:
                continue
            coverage.tried.add(memo_key)
            if _can_hold(engine, extra.when, answers, alts):
                coverage.extras.add((outcome.id, index))


def _can_hold(engine: Engine, cond: Cond, answers: dict[str, AnswerValue],
              alts: Mapping[str, tuple[AnswerValue, ...]]) -> bool:
    """Whether `cond` holds for some answer of each group on the path."""
    keys = sorted({a.question for a in cond.atoms()} & set(alts))
    options = [list(dict.fromkeys([*([answers[k]] if k in answers else []), *alts[k]]))
               for k in keys]

    def walk(index: int, current: dict[str, AnswerValue]) -> bool:
        if index == len(keys):
            return cond.holds(engine.facts(current))
        return any(walk(index + 1, {**current, keys[index]: v}) for v in options[index])

    return walk(0, dict(answers))


def _cover_automatic(engine: Engine, position: Position, facts: Mapping[str, AnswerValue],
                     coverage: Coverage) -> None:
    """Record the transitions taken by skipped (already known) questions as covered too."""
    for _ in range(100):
        node = engine.bundle.node(position.flow, position.node)
        if not isinstance(node, Question) or node.key not in facts:
            return
        value = facts[node.key]
        if not engine._offers(node, value):
            return
        target, label = engine.route(node, value, facts)
        coverage.routes.add((position.flow, node.id, label))
        position = engine.resolve_target(position.flow, target)


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


# --- the memoised walk (checker coverage and the invariant tests) ---------------------------
def _cond_keys(cond: Cond) -> set[str]:
    return {a.question for a in cond.atoms()}


def downstream_keys(bundle: FlowBundle, outcome_extras: bool = True
                    ) -> dict[tuple[str, str], frozenset[str]]:
    """Per node, every answer key that anything from there on can read: conditions of the
    nodes it can reach, the extras of the outcomes it can reach, and the run-wide conventions.
    Two partial paths at a node that agree on these keys have the same future."""
    conventions = bundle.conventions
    global_keys: set[str] = set()
    for rule in [*conventions.implications, *conventions.raises, *conventions.record_then_refer]:
        global_keys |= _cond_keys(rule.when)
    if conventions.dont_tell_family is not None and outcome_extras:
        global_keys |= _cond_keys(conventions.dont_tell_family.when)
    multi = {q.key for f in bundle.flows.values() for q in f.nodes
             if isinstance(q, Question) and q.multi}

    def extra_keys(outcome: Outcome) -> set[str]:
        """Keys of the extras that decide (consent, alert, family line); decoration is
        checked per outcome, not per path."""
        found: set[str] = set()
        if not outcome_extras:
            return found
        for extra in bundle.extras_for(outcome):
            keys = _cond_keys(extra.when)
            if deciding(extra) or keys & multi:
                found |= keys
        return found

    for rule in conventions.raises:
        added = bundle.shared_outcome(rule.outcome)
        if added is not None:
            global_keys |= extra_keys(added)
    memo: dict[tuple[str, str], frozenset[str]] = {}

    def keys_of(flow_id: str, node_id: str) -> frozenset[str]:
        if (flow_id, node_id) in memo:
            return memo[(flow_id, node_id)]
        memo[(flow_id, node_id)] = frozenset()  # the checker reports cycles; never loop here
        node = bundle.node(flow_id, node_id)
        found: set[str] = set()
        if isinstance(node, Outcome):
            found |= extra_keys(node)
        elif isinstance(node, Question):
            found.add(node.key)
            for branch in node.branches:
                found |= _cond_keys(branch.when)
            for choice in node.choices:
                for branch in choice.branches:
                    found |= _cond_keys(branch.when)
            for target in [*node.branches, node, *node.choices,
                           *(b for c in node.choices for b in c.branches)]:
                if target.goto_flow and target.goto_flow in bundle.flows:
                    flow = bundle.flows[target.goto_flow]
                    found |= keys_of(flow.id, target.at or flow.start)
                elif target.next:
                    found |= keys_of(flow_id, target.next)
        memo[(flow_id, node_id)] = frozenset(found)
        return memo[(flow_id, node_id)]

    # record-then-refer can continue from any outcome: what its targets read counts everywhere
    for rule in conventions.record_then_refer:
        if rule.goto_flow and rule.goto_flow in bundle.flows:
            global_keys |= keys_of(rule.goto_flow, rule.at or bundle.flows[rule.goto_flow].start)
    nodes = [(f.id, n.id) for f in bundle.flows.values() for n in f.nodes]
    nodes += [("", o.id) for o in bundle.shared.outcomes]
    return {node: keys_of(*node) | global_keys for node in nodes}


@dataclass
class End:
    """A distinct end of the walk: a representative path, and how many paths end like it."""

    path: FlowPath
    alternatives: dict[str, tuple[AnswerValue, ...]]
    paths: int = 0


@dataclass
class Walk:
    ends: list[End]
    states: int
    paths: int


def walk(
    bundle: FlowBundle,
    flow_id: str | None = None,
    *,
    extra_conditions: Iterable[Cond] = (),
    view: Any = None,
    coverage: Coverage | None = None,
) -> Walk:
    """Every path, walked once per distinct state: at each node, partial paths that agree on
    every key read from there on (`downstream_keys`), on the group each answer belongs to and
    on `view(facts)` (what a caller such as an invariant test reads) have the same future and
    are walked once. `paths` counts every path (with the same grouping of answers as
    `enumerate_paths`); `ends` has one representative per distinct end."""
    engine = Engine(bundle)
    table = ChoiceTable(bundle, False, extra_conditions)
    keys_at = downstream_keys(bundle, outcome_extras=coverage is None)
    flow_id = flow_id or bundle.entry
    start = Position(flow=flow_id, node=bundle.flows[flow_id].start)
    extra_keys = frozenset(k for c in extra_conditions for k in _cond_keys(c))
    every_answer: dict[str, tuple[str, ...]] = {}
    for f in bundle.flows.values():
        for q in f.nodes:
            if isinstance(q, Question) and not q.multi:
                every_answer[q.key] = tuple(dict.fromkeys(
                    (*every_answer.get(q.key, ()), *(c.id for c in q.choices))))
    children: dict[tuple, list[tuple]] = {}
    ends: dict[tuple, End] = {}
    order: list[tuple] = []

    relevant_cache: dict[tuple, tuple[str, ...]] = {}

    def relevant_keys(position: Position, held: tuple[Held, ...]) -> tuple[str, ...]:
        cache_key = (position.flow, position.node, tuple(h.outcome for h in held))
        found = relevant_cache.get(cache_key)
        if found is None:
            relevant = keys_at.get((position.flow, position.node)) or keys_at.get(
                ("", position.node), frozenset())
            relevant = relevant | extra_keys
            for item in held if coverage is None else ():
                kept = bundle.node(item.flow, item.outcome)
                if isinstance(kept, Outcome):
                    relevant = relevant | {k for e in bundle.extras_for(kept) if deciding(e)
                                           for k in _cond_keys(e.when)}
            found = relevant_cache[cache_key] = tuple(sorted(relevant))
        return found

    def state_key(position: Position, answers: dict, held: tuple[Held, ...], alts: dict,
                  facts: dict) -> tuple:
        projected = tuple((k, answers[k] if isinstance(answers[k], str) else tuple(answers[k]),
                           alts.get(k, ())) for k in relevant_keys(position, held) if k in answers)
        seen_view = view(facts, answers) if view else None
        return (position, tuple(h.outcome for h in held), projected, seen_view)

    def visit(position: Position, steps: tuple[PathStep, ...], answers: dict, held: tuple[Held, ...],
              alts: dict, facts: dict) -> tuple:
        key = state_key(position, answers, held, alts, facts)
        if key in children or key in ends:
            return key
        node = bundle.node(position.flow, position.node)
        if isinstance(node, Outcome):
            ends[key] = End(FlowPath(steps, position, held=held), dict(alts))
            if coverage is not None:
                kept = {k for k, _, _ in key[2]}
                free = {k: v for k, v in every_answer.items() if k not in kept}
                _cover_outcome(engine, node, held, answers, {**alts, **free}, coverage)
            order.append(key)
            return key
        assert isinstance(node, Question), position
        children[key] = []
        for value, alternatives in table.choices(position.flow, node, facts):
            new_answers = {**answers, node.key: value}
            new_facts = engine.facts_after(facts, new_answers, node.key)
            target, label = engine.route(node, value, new_facts)
            if coverage is not None:
                coverage.routes.add((position.flow, node.id, label))
                for alt in alternatives:
                    _, alt_label = engine.route(node, alt, engine.facts({**answers, node.key: alt}))
                    coverage.routes.add((position.flow, node.id, alt_label))
                _cover_automatic(engine, engine.resolve_target(position.flow, target), new_facts,
                                 coverage)
            step = PathStep(position.flow, node.id, node.key, value, alternatives)
            nxt, new_held = engine.settle(engine.resolve_target(position.flow, target),
                                          new_answers, held, len(steps) + 1, new_facts)
            new_alts = {**alts, node.key: alternatives} if alternatives else alts
            children[key].append(visit(nxt, (*steps, step), new_answers, new_held, new_alts,
                                       new_facts))
        order.append(key)
        return key

    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        root = visit(start, (), {}, (), {}, {})
    finally:
        sys.setrecursionlimit(old)
    # how many paths reach each state: parents come after their children in `order`
    reaching: dict[tuple, int] = {root: 1}
    for key in reversed(order):
        count = reaching.get(key, 0)
        for child in children.get(key, ()):
            reaching[child] = reaching.get(child, 0) + count
    for key, end in ends.items():
        end.paths = reaching.get(key, 0)
    return Walk(list(ends.values()), len(children) + len(ends), sum(e.paths for e in ends.values()))


# --- route independence (INV14): the same answers by different routes ------------------------
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
            for target in [*node.branches, node, *node.choices,
                           *(b for c in node.choices for b in c.branches)]:
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
    nodes = [(f.id, n.id) for f in bundle.flows.values() for n in f.nodes]
    nodes += [("", o.id) for o in bundle.shared.outcomes]
    for node in nodes:
        if isinstance(bundle.node(*node), Outcome):
            result[node] = (frozenset(), {})
            continue
        keys = direct(*node) | rr
        implied: dict[str, set[str]] = {}
        for rule in rules:
            if _cond_keys(rule.when) & keys:
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

    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        entry = bundle.flows[bundle.entry]
        single(Position(flow=entry.id, node=entry.start), {}, ())
    finally:
        sys.setrecursionlimit(old)
    return found
