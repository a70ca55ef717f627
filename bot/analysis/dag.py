"""Every path, walked once per distinct state: the memoised walk behind the path count, the
checker's "can never be true" reports and the safety-invariant tests.

At each node, partial paths that agree on every answer anything from there on can read (the
*live* keys) have the same future, so they are one state and their future is walked once.
The states form a DAG: `Walk.paths` counts every root-to-end path through it (answers grouped
as `ChoiceTable` groups them), and `Walk.combinations` tells, for each distinct end, every
distinct way the paths reaching it answered a few chosen keys, however many paths that is.
That is what makes one check per end exact for all the paths it stands for: the end's own
state fixes what the engine's answer reads, and the combinations give what a check reads.

Live keys, per state:
- at a question: what the nodes it can reach read (their own keys, branch conditions, the
  deciding extras of the outcomes they reach), what every end reads (see below), and, while
  no outcome is held, what record-then-refer reads and where it can continue;
- at an outcome: what the engine's answer reads there: implied answers, answers that add an
  outcome (and those outcomes' deciding extras), "don't tell the family first", the nation
  (the wording), and the deciding extras of the outcome and of any held one.
Decoration (gateways, notes, wording added by extras) does not decide a state: it is checked
per outcome. The checker's coverage walk (`explore`) keeps its own, coarser rule (below).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from bot.analysis.grouping import ChoiceTable, FlowPath, PathStep, cond_keys, deciding, hashable, multi_keys
from bot.core.engine import AnswerValue, Engine, Held, Position
from bot.flows.conditions import Atom, Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Outcome, Question

NodeKey = tuple[str, str]


@dataclass
class Coverage:
    """Which transitions and outcome extras the enumeration used (for 'never true' checks)."""

    routes: set[tuple[str, str, str]] = field(default_factory=set)
    extras: set[tuple[str, int]] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)
    tried: set[tuple] = field(default_factory=set, repr=False)


# --- what each node can still read ----------------------------------------------------------
def _deciding_keys(bundle: FlowBundle, outcome: Outcome) -> set[str]:
    """Keys of the extras that decide (consent, alert, family line) or read a multi-select;
    decoration is checked per outcome, not per path."""
    multi = multi_keys(bundle)
    found: set[str] = set()
    for extra in bundle.extras_for(outcome):
        keys = cond_keys(extra.when)
        if deciding(extra) or keys & multi:
            found |= keys
    return found


def _reachable_keys(bundle: FlowBundle, outcome_extras: bool) -> Callable[[str, str], frozenset[str]]:
    """`keys_of(flow, node)`: the keys the nodes reachable from there read (their own keys,
    branch conditions and, with `outcome_extras`, the deciding extras of the outcomes)."""
    memo: dict[NodeKey, frozenset[str]] = {}

    def keys_of(flow_id: str, node_id: str) -> frozenset[str]:
        if (flow_id, node_id) in memo:
            return memo[(flow_id, node_id)]
        memo[(flow_id, node_id)] = frozenset()  # the checker reports cycles; never loop here
        node = bundle.node(flow_id, node_id)
        found: set[str] = set()
        if isinstance(node, Outcome):
            if outcome_extras:
                found |= _deciding_keys(bundle, node)
        elif isinstance(node, Question):
            found.add(node.key)
            for branch in node.branches:
                found |= cond_keys(branch.when)
            for choice in node.choices:
                for branch in choice.branches:
                    found |= cond_keys(branch.when)
            for target in node.targets():
                if target.goto_flow and target.goto_flow in bundle.flows:
                    flow = bundle.flows[target.goto_flow]
                    found |= keys_of(flow.id, target.at or flow.start)
                elif target.next:
                    found |= keys_of(flow_id, target.next)
        memo[(flow_id, node_id)] = frozenset(found)
        return memo[(flow_id, node_id)]

    return keys_of


def downstream_keys(bundle: FlowBundle, outcome_extras: bool = True) -> dict[NodeKey, frozenset[str]]:
    """Per node, every answer key that anything from there on can read: conditions of the
    nodes it can reach, the extras of the outcomes it can reach, and the run-wide conventions
    (record-then-refer counted everywhere). The checker's coverage walk merges on these."""
    conventions = bundle.conventions
    global_keys: set[str] = set()
    for rule in [*conventions.implications, *conventions.raises, *conventions.record_then_refer]:
        global_keys |= cond_keys(rule.when)
    if conventions.dont_tell_family is not None and outcome_extras:
        global_keys |= cond_keys(conventions.dont_tell_family.when)
    for rule in conventions.raises:
        added = bundle.shared_outcome(rule.outcome)
        if added is not None and outcome_extras:
            global_keys |= _deciding_keys(bundle, added)
    keys_of = _reachable_keys(bundle, outcome_extras)
    # record-then-refer can continue from any outcome: what its targets read counts everywhere
    for rule in conventions.record_then_refer:
        if rule.goto_flow and rule.goto_flow in bundle.flows:
            global_keys |= keys_of(rule.goto_flow, rule.at or bundle.flows[rule.goto_flow].start)
    return {node: keys_of(*node) | global_keys for node in bundle.all_nodes()}


class _Live:
    """What a state keeps of the answers: per live key, the answer itself (`atoms` None) or
    which of `atoms` (the conditions on that key the end reads) it makes true."""

    __slots__ = ("keys", "atoms", "lists", "_truths")

    def __init__(self, pairs: list[tuple[str, tuple[Atom, ...] | None]], multi: frozenset[str]):
        self.keys = tuple(k for k, _ in pairs)
        self.atoms = tuple(a for _, a in pairs) if any(a is not None for _, a in pairs) else None
        self.lists = tuple(i for i, k in enumerate(self.keys) if k in multi)
        self._truths: dict[tuple[int, Any], tuple[bool, ...]] = {}

    def project(self, answers: Mapping[str, AnswerValue]) -> tuple:
        found = list(map(answers.get, self.keys))
        for i in self.lists:
            if found[i] is not None:
                found[i] = tuple(found[i])
        if self.atoms is not None:
            for i, atoms in enumerate(self.atoms):
                if atoms is not None and found[i] is not None:
                    found[i] = self._truth(i, atoms, found[i])
        return tuple(found)

    def _truth(self, index: int, atoms: tuple[Atom, ...], value: Any) -> tuple[bool, ...]:
        found = self._truths.get((index, value))
        if found is None:
            given = {self.keys[index]: list(value) if isinstance(value, tuple) else value}
            found = self._truths[(index, value)] = tuple(a.holds(given) for a in atoms)
        return found


def _deciding_atoms(bundle: FlowBundle, outcome: Outcome) -> set[Atom]:
    return {a for extra in bundle.extras_for(outcome) if deciding(extra) for a in extra.when.atoms()}


class _LiveKeys:
    """The live keys of a state (see the module docstring), cached per node and held outcomes:
    `(key, atoms)` pairs, where `atoms` is None when the answer itself is kept, else the atoms
    on that key the end reads (the answer is kept as which of them it makes true)."""

    def __init__(self, bundle: FlowBundle, coverage: bool, extra_keys: frozenset[str]):
        self.bundle = bundle
        self.coverage = coverage
        self._cache: dict[tuple[str, str, tuple], _Live] = {}
        self._multi = multi_keys(bundle)
        if coverage:
            self._coarse = downstream_keys(bundle, outcome_extras=False)
            self._extra = extra_keys
            return
        c = bundle.conventions
        self._below = _reachable_keys(bundle, outcome_extras=True)
        ends: set[Atom] = set()
        for rule in [*c.implications, *c.raises]:
            ends |= set(rule.when.atoms())
        for rule in c.raises:
            added = bundle.shared_outcome(rule.outcome)
            if added is not None:
                ends |= _deciding_atoms(bundle, added)
        if c.dont_tell_family is not None:
            ends |= set(c.dont_tell_family.when.atoms())
        self._end_atoms = frozenset(ends)
        self._nation = bundle.manifest.jurisdiction_question
        self._ends = frozenset({a.question for a in ends} | ({self._nation} if self._nation else set()))
        handover: set[str] = set()
        for rule in c.record_then_refer:
            handover |= cond_keys(rule.when)
            if rule.goto_flow and rule.goto_flow in bundle.flows:
                handover |= self._below(rule.goto_flow, rule.at or bundle.flows[rule.goto_flow].start)
            elif rule.next:
                handover |= self._below("", rule.next)
        self._handover = frozenset(handover)

    def __call__(self, flow: str, node_id: str, held: tuple) -> _Live:
        cache_key = (flow, node_id, held)
        found = self._cache.get(cache_key)
        if found is None:
            found = self._cache[cache_key] = _Live(self._compute(flow, node_id, held), self._multi)
        return found

    def _compute(self, flow: str, node_id: str, held: tuple) -> list[tuple[str, tuple[Atom, ...] | None]]:
        bundle = self.bundle
        if self.coverage:
            keys = (self._coarse.get((flow, node_id)) or self._coarse.get(("", node_id), frozenset())
                    ) | self._extra
            return [(k, None) for k in sorted(keys)]
        node = bundle.node(flow, node_id)
        kept = [bundle.node(kept_flow, kept_id) for kept_flow, kept_id in held]
        if isinstance(node, Outcome):  # nothing more is asked: only the conditions the end reads
            atoms = set(self._end_atoms) | _deciding_atoms(bundle, node)
            for outcome in kept:
                if isinstance(outcome, Outcome):
                    atoms |= _deciding_atoms(bundle, outcome)
            by_key: dict[str, set[Atom]] = {}
            for atom in atoms:
                by_key.setdefault(atom.question, set()).add(atom)
            if self._nation:
                by_key.setdefault(self._nation, set())
            return [(k, None if k == self._nation else tuple(sorted(by_key[k], key=repr)))
                    for k in sorted(by_key)]
        live = set(self._below(flow, node_id)) | self._ends
        for outcome in kept:
            if isinstance(outcome, Outcome):
                live |= _deciding_keys(bundle, outcome)
        if not held:
            live |= self._handover
        return [(k, None) for k in sorted(live)]


# --- the walk -------------------------------------------------------------------------------
class End:
    """A distinct end of the walk: where it ends, what it holds, a representative path (the
    first found) and how many paths end like it."""

    __slots__ = ("_walk", "state", "position", "held", "paths", "_path")

    def __init__(self, owner: Walk, state: int, position: Position, held: tuple[Held, ...]):
        self._walk = owner
        self.state = state
        self.position = position
        self.held = held
        self.paths = 0
        self._path: FlowPath | None = None

    @property
    def path(self) -> FlowPath:
        if self._path is None:
            self._path = FlowPath(self._walk.steps_to(self.state), self.position, held=self.held)
        return self._path


class Walk:
    """The DAG of distinct states of every path from one flow."""

    def __init__(self) -> None:
        self.ends: list[End] = []
        self.paths = 0
        self._parent = array("l")            # first state that led here (-1 at the root)
        self._via: list[PathStep | None] = []  # the answer that led here from that state
        self._next: list[tuple[tuple[int, PathStep], ...] | None] = []  # None at an end
        self._finished = array("l")          # post-order: every state after all it leads to
        self._reaching: list[int] = []

    @property
    def states(self) -> int:
        return len(self._next)

    def steps_to(self, state: int) -> tuple[PathStep, ...]:
        steps = []
        while self._parent[state] >= 0:
            steps.append(self._via[state])
            state = self._parent[state]
        return tuple(reversed(steps))  # type: ignore[arg-type]

    def _topological(self) -> Iterator[int]:
        """Every state before all the states it leads to (the root first)."""
        return reversed(self._finished)

    def _count(self) -> None:
        reaching = self._reaching = [0] * self.states  # paths from the root to each state
        if self.states:
            reaching[self._finished[-1]] = 1
        for state in self._topological():
            count = reaching[state]
            for child, _ in self._next[state] or ():
                reaching[child] += count
        for end in self.ends:
            end.paths = reaching[end.state]
        self.paths = sum(end.paths for end in self.ends)

    def through(self, chosen: Callable[[PathStep], bool]) -> Iterator[tuple[PathStep, int]]:
        """Each step the filter chooses, with the number of paths that take it."""
        onward = [0] * self.states  # paths from each state to an end
        for state in self._finished:
            following = self._next[state]
            onward[state] = 1 if following is None else sum(onward[child] for child, _ in following)
        for state in range(self.states):
            for child, step in self._next[state] or ():
                if chosen(step):
                    yield step, self._reaching[state] * onward[child]

    def combinations(self, keys: Sequence[str], *, count_up_to: int = 0,
                     telling: Mapping[str, Sequence[frozenset[str]]] | None = None) -> list[set[tuple]]:
        """For each end (in `ends` order), every distinct way the paths reaching it answered
        `keys`: a tuple with, per key, the answers of the step's group (`PathStep.members`, a
        multi-select's lists as tuples) or None where the path did not answer it. `telling`
        narrows a key to what matters about its answer: whether it is (a multi-select: has)
        one of each of these sets of answers; of the answers in a group that agree on all of
        them only the first is kept. With `count_up_to`, a last item counts the answers,
        capped there."""
        slot = {key: index for index, key in enumerate(keys)}
        telling = telling or {}
        start = (None,) * len(keys) + ((0,) if count_up_to else ())
        reaching: dict[int, set[tuple]] = {}
        if self.states:
            reaching[self._finished[-1]] = {start}
        groups: dict[int, tuple] = {}  # by the step's id: steps are shared and alive
        moved: dict[tuple, tuple] = {}
        found: dict[int, set[tuple]] = {}
        for state in self._topological():
            mine = reaching.pop(state, set())
            following = self._next[state]
            if following is None:
                found[state] = mine
                continue
            for child, step in following:
                index = slot.get(step.key)
                if index is None and not count_up_to:
                    reaching.setdefault(child, set()).update(mine)
                    continue
                group = groups.get(id(step)) if index is not None else None
                if index is not None and group is None:
                    group = groups[id(step)] = _group(step, telling.get(step.key))
                into = reaching.setdefault(child, set())
                for combo in mine:
                    memo_key = (combo, step.key, group)
                    after = moved.get(memo_key)
                    if after is None:
                        items = list(combo)
                        if index is not None:
                            items[index] = group
                        if count_up_to:
                            items[-1] = min(items[-1] + 1, count_up_to)
                        after = moved[memo_key] = tuple(items)
                    into.add(after)
        return [found.get(end.state, set()) for end in self.ends]


def _group(step: PathStep, telling: Sequence[frozenset[str]] | None) -> tuple:
    members = [hashable(m) for m in step.members]
    if telling is None:
        return tuple(members)
    first: dict[tuple[bool, ...], Any] = {}
    for member in members:
        chosen = set(member) if isinstance(member, tuple) else {member}
        first.setdefault(tuple(bool(chosen & values) for values in telling), member)
    return tuple(sorted(first.values(), key=repr))


def walk(
    bundle: FlowBundle,
    flow_id: str | None = None,
    *,
    extra_conditions: Iterable[Cond] = (),
    multi_atoms: Iterable[Atom] = (),
    coverage: Coverage | None = None,
    table: ChoiceTable | None = None,
) -> Walk:
    """Every path from `flow_id` (default: the entry flow), walked once per distinct state.
    `extra_conditions` also tell answers apart (what a caller reads that the flows might
    group); `multi_atoms` tell a multi-select's combinations apart without splitting the
    walk: the combinations a step stands for are its alternatives. With `coverage`, record
    what the paths use, for the checker."""
    engine = Engine(bundle)
    extra_conditions = list(extra_conditions)
    table = table or ChoiceTable(bundle, False, extra_conditions, multi_atoms)
    extra_keys = frozenset(k for c in extra_conditions for k in cond_keys(c))
    live = _LiveKeys(bundle, coverage is not None, extra_keys)
    flow_id = flow_id or bundle.entry
    start = Position(flow=flow_id, node=bundle.flows[flow_id].start)
    every_answer = _every_answer(bundle) if coverage is not None else {}
    result = Walk()
    index: dict[tuple, int] = {}
    steps: dict[tuple, PathStep] = {}
    parent, via, following, finished = result._parent, result._via, result._next, result._finished

    multi = multi_keys(bundle)
    projections: dict[tuple[str, ...], tuple[int, ...]] = {}
    routes: dict[tuple, tuple] = {}
    branch_reads: dict[tuple, tuple[str, ...]] = {}

    def project(values: Mapping[str, AnswerValue], keys: tuple[str, ...]) -> tuple:
        """The answers to `keys` (None where unanswered), multi-selects as tuples."""
        lists = projections.get(keys)
        if lists is None:
            lists = projections[keys] = tuple(i for i, k in enumerate(keys) if k in multi)
        found = list(map(values.get, keys))
        for i in lists:
            if found[i] is not None:
                found[i] = tuple(found[i])
        return tuple(found)

    def route(flow: str, node: Question, value: AnswerValue, facts: dict) -> tuple:
        """`engine.route` and where it lands, cached on what the branches read."""
        choice_key = (flow, node.id, hashable(value))
        reads = branch_reads.get(choice_key)
        if reads is None:
            reads = branch_reads[choice_key] = _branch_keys(node, value)
        route_key = (choice_key, project(facts, reads))
        found = routes.get(route_key)
        if found is None:
            target, label = engine.route(node, value, facts)
            found = routes[route_key] = (target, label, engine.resolve_target(flow, target))
        return found

    def visit(position: Position, answers: dict, held: tuple[Held, ...], alts: dict, facts: dict,
              came_from: int, step: PathStep | None) -> int:
        held_ids = tuple((h.flow, h.outcome) for h in held)
        keeps = live(position.flow, position.node, held_ids)
        if coverage is None:
            projected: tuple = keeps.project(answers)
        else:  # as the checker always merged: with the alternatives, on the held outcome's id
            held_ids = tuple(h.outcome for h in held)  # type: ignore[misc]
            projected = tuple((k, hashable(answers[k]), alts.get(k, ())) for k in keeps.keys if k in answers)
        state_key = (position.flow, position.node, held_ids, projected)
        found = index.get(state_key)
        if found is not None:
            return found
        me = index[state_key] = len(following)
        parent.append(came_from)
        via.append(step)
        following.append(None)
        node = bundle.node(position.flow, position.node)
        if isinstance(node, Outcome):
            result.ends.append(End(result, me, position, held))
            if coverage is not None:
                kept = {k for k, _, _ in projected}
                free = {k: v for k, v in every_answer.items() if k not in kept}
                _cover_outcome(engine, node, held, answers, {**alts, **free}, coverage)
            finished.append(me)
            return me
        assert isinstance(node, Question), position
        children = []
        depth = len(answers) + 1
        for value, alternatives in table.choices(position.flow, node, facts):
            new_answers = {**answers, node.key: value}
            new_facts = engine.facts_after(facts, new_answers, node.key)
            _, label, landing = route(position.flow, node, value, new_facts)
            if coverage is not None:
                _cover_choice(engine, position.flow, node, answers, alternatives, label, landing,
                              new_facts, coverage)
            step_key = (position.flow, node.id, hashable(value), tuple(map(hashable, alternatives)))
            taken = steps.get(step_key)
            if taken is None:
                taken = steps[step_key] = PathStep(position.flow, node.id, node.key, value, alternatives)
            nxt, new_held = engine.settle(landing, new_answers, held, depth, new_facts)
            new_alts = {**alts, node.key: alternatives} if alternatives else alts
            children.append((visit(nxt, new_answers, new_held, new_alts, new_facts, me, taken), taken))
        following[me] = tuple(children)
        finished.append(me)
        return me

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        visit(start, {}, (), {}, {}, -1, None)
    finally:
        sys.setrecursionlimit(old)
    result._count()
    return result


def _branch_keys(node: Question, value: AnswerValue) -> tuple[str, ...]:
    branches = node.branches if node.multi else node.choice(str(value)).branches  # type: ignore[union-attr]
    return tuple(sorted({k for b in branches for k in cond_keys(b.when)}))


def _every_answer(bundle: FlowBundle) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for f in bundle.flows.values():
        for q in f.nodes:
            if isinstance(q, Question) and not q.multi:
                found[q.key] = tuple(dict.fromkeys((*found.get(q.key, ()), *(c.id for c in q.choices))))
    return found


# --- the checker's coverage -------------------------------------------------------------------
def explore(bundle: FlowBundle, flow_id: str, coverage: Coverage, table: ChoiceTable | None = None) -> int:
    """Record which branches and extras can fire on some path from `flow_id` (for the
    checker's 'never true' reports). States are merged on the keys routing reads, so an extra
    counts as reachable when some answer could make it true (an over-approximation: a lint
    never blocks flows it cannot prove wrong). Returns the number of states visited."""
    return walk(bundle, flow_id, coverage=coverage, table=table).states


def _cover_choice(engine: Engine, flow: str, node: Question, answers: dict,
                  alternatives: tuple[str, ...], label: str, landing: Position,
                  new_facts: dict, coverage: Coverage) -> None:
    coverage.routes.add((flow, node.id, label))
    for alt in alternatives:
        _, alt_label = engine.route(node, alt, engine.facts({**answers, node.key: alt}))
        coverage.routes.add((flow, node.id, alt_label))
    _cover_automatic(engine, landing, new_facts, coverage)


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
            keys = sorted(cond_keys(extra.when) | engine._implying_keys)
            memo_key = (outcome.id, index, tuple((k, str(answers.get(k)), alts.get(k, ()))
                                                 for k in keys))
            if memo_key in coverage.tried:
                continue
            coverage.tried.add(memo_key)
            if _can_hold(engine, extra.when, answers, alts, facts):
                coverage.extras.add((outcome.id, index))


def _can_hold(engine: Engine, cond: Cond, answers: dict[str, AnswerValue],
              alts: Mapping[str, tuple[AnswerValue, ...]], facts: Mapping[str, AnswerValue]) -> bool:
    """Whether `cond` holds for some answer of each group on the path (`facts` are the path's).
    When no key it varies feeds an implication, the implied answers stay as they are, so the
    facts are the path's with the varied answers put in."""
    keys = sorted(cond_keys(cond) & set(alts))
    options = [list(dict.fromkeys([*([answers[k]] if k in answers else []), *alts[k]]))
               for k in keys]
    if not engine._implying_keys.intersection(keys):
        return any(cond.holds({**facts, **dict(zip(keys, combo, strict=True))})
                   for combo in product(*options))
    return any(cond.holds(engine.facts({**answers, **dict(zip(keys, combo, strict=True))}))
               for combo in product(*options))


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
