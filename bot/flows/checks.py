"""Graph checks over a parsed bundle: the mistakes a schema cannot see.

Each check returns `Problem`s located at the node (file:line) so an author can fix the YAML
without reading Python. Path-based checks run only when the graph is sound, because walking a
broken graph would report noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from bot.flows.loader import FlowBundle, Problem
from bot.flows.paths import Coverage, explore
from bot.flows.schema import (
    ConsentPosition,
    DslAlert,
    Extra,
    Outcome,
    Question,
    Target,
    Verdict,
)

RECORD_RULE = "GR7"


class _Checker:
    def __init__(self, bundle: FlowBundle):
        self.b = bundle
        self.problems: list[Problem] = []

    def report(self, flow: str, node: str, message: str) -> None:
        file, line = self.b.where(flow, node)
        self.problems.append(Problem(file, line, node or flow, message))

    def report_catalogue(self, file_key: str, item: str, message: str) -> None:
        file, line = self.b.locations.get((file_key, item), (str(self.b.directory / file_key), 1))
        self.problems.append(Problem(file, line, item, message))

    # --- helpers --------------------------------------------------------------------------
    def questions(self) -> Iterator[tuple[str, Question]]:
        for flow in self.b.flows.values():
            for node in flow.nodes:
                if isinstance(node, Question):
                    yield flow.id, node

    def answer_ids(self) -> dict[str, set[str]]:
        ids: dict[str, set[str]] = {}
        for _, question in self.questions():
            ids.setdefault(question.key, set()).update(c.id for c in question.choices)
        return ids

    def targets(self, question: Question) -> Iterator[tuple[str, Target]]:
        for branch in question.branches:
            yield "branch", branch
        if question.is_set:
            yield "next", question
        for choice in question.choices:
            for branch in choice.branches:
                yield f"choice {choice.id!r} branch", branch
            if choice.is_set:
                yield f"choice {choice.id!r}", choice

    def edges(self, flow_id: str, question: Question) -> Iterator[tuple[str, str]]:
        for _, target in self.targets(question):
            if target.goto_flow and target.goto_flow in self.b.flows:
                yield target.goto_flow, target.at or self.b.flows[target.goto_flow].start
            elif target.next:
                yield flow_id, target.next

    # --- checks ---------------------------------------------------------------------------
    def duplicates(self) -> None:
        for flow in self.b.flows.values():
            for node_id, n in Counter(node.id for node in flow.nodes).items():
                if n > 1:
                    self.report(flow.id, node_id, f"duplicate node id (used {n} times)")
            for node in flow.nodes:
                if isinstance(node, Question):
                    for choice_id, n in Counter(c.id for c in node.choices).items():
                        if n > 1:
                            self.report(flow.id, node.id, f"duplicate answer id {choice_id!r}")
                elif self.b.shared_outcome(node.id) is not None:
                    self.report(flow.id, node.id, "duplicate id: a shared outcome has this id")
        for node_id, n in Counter(o.id for o in self.b.shared.outcomes).items():
            if n > 1:
                self.report("", node_id, f"duplicate outcome id (used {n} times)")
        cat = self.b.rules_catalogue
        ids = [r.id for r in cat.rules] + [c.id for c in cat.checklist]
        ids += [f.id for f in cat.record_fields] + [r.id for r in cat.legacy_rules]
        for item, n in Counter(ids).items():
            if n > 1:
                self.report_catalogue("rules.yaml", item, f"duplicate id (used {n} times)")
        for item, n in Counter(self.b.gateway_ids).items():
            if n > 1:
                self.report_catalogue("gateways.yaml", item, f"duplicate id (used {n} times)")

    def manifest(self) -> None:
        m = self.b.manifest
        if m.entry not in self.b.flows:
            self.report_catalogue("manifest.yaml", "entry", f"unknown entry flow {m.entry!r}")
        for enum, labels, name in (
            (Verdict, m.verdict_labels, "verdict_labels"),
            (ConsentPosition, m.consent_labels, "consent_labels"),
            (DslAlert, m.dsl_alert_labels, "dsl_alert_labels"),
        ):
            missing = [v.value for v in enum if v not in labels]
            if missing:
                self.report_catalogue("manifest.yaml", name, f"no label for {', '.join(missing)}")

    def structure(self) -> None:
        for flow in self.b.flows.values():
            if self.b.node(flow.id, flow.start) is None:
                self.report(flow.id, "", f"start node {flow.start!r} does not exist")
        for flow_id, q in self.questions():
            if not q.multi and (q.is_set or q.branches):
                self.report(flow_id, q.id, "only a multi-select question routes at question "
                            "level; put `next` on each choice")
            if q.multi:
                if any(c.is_set or c.branches for c in q.choices):
                    self.report(flow_id, q.id, "in a multi-select question, route with the "
                                "question's `branches`/`next`, not on choices")
                if not q.is_set:
                    self.report(flow_id, q.id, "dead end: multi-select question has no "
                                "default `next` or `goto_flow`")
            else:
                for choice in q.choices:
                    if not choice.is_set:
                        self.report(flow_id, q.id, f"dead end: choice {choice.id!r} has no "
                                    "default `next` or `goto_flow`")
            for where, target in self.targets(q):
                self.target(flow_id, q.id, where, target)

    def target(self, flow_id: str, node_id: str, where: str, target: Target) -> None:
        if target.goto_flow:
            other = self.b.flows.get(target.goto_flow)
            if other is None:
                self.report(flow_id, node_id, f"{where}: unknown flow {target.goto_flow!r}")
            elif target.at and self.b.node(other.id, target.at) is None:
                self.report(flow_id, node_id,
                            f"{where}: unknown node {target.at!r} in flow {other.id!r}")
        elif target.next and self.b.node(flow_id, target.next) is None:
            self.report(flow_id, node_id, f"{where}: unknown node {target.next!r}")

    def catalogue_refs(self) -> None:
        rules = set(self.b.rules)
        checklist = {c.id for c in self.b.rules_catalogue.checklist}
        record_fields = {f.id for f in self.b.rules_catalogue.record_fields}
        for legacy in self.b.rules_catalogue.legacy_rules:
            for rule in legacy.maps_to:
                if rule not in rules:
                    self.report_catalogue("rules.yaml", legacy.id, f"unknown rule {rule!r}")
        for name, extras in self.b.shared.extra_sets.items():
            for extra in extras:
                self.extra_refs("", f"extra_sets.{name}", extra)
        for extra in self.b.shared.always:
            self.extra_refs("", "always", extra)
        for flow_id, outcome in self.all_outcomes():
            for rule in outcome.rules:
                if rule not in rules:
                    self.report(flow_id, outcome.id, f"unknown rule {rule!r} (not in rules.yaml)")
            for gateway in outcome.gateways:
                if gateway not in self.b.gateways:
                    self.report(flow_id, outcome.id,
                                f"unknown gateway {gateway!r} (not in gateways.yaml)")
            for item in outcome.share_checklist:
                if item not in checklist:
                    self.report(flow_id, outcome.id, f"unknown checklist item {item!r}")
            for item in outcome.record:
                if item not in record_fields:
                    self.report(flow_id, outcome.id, f"unknown record field {item!r}")
            for name in outcome.include:
                if name not in self.b.shared.extra_sets:
                    self.report(flow_id, outcome.id, f"unknown extra set {name!r}")
            for extra in outcome.extras:
                self.extra_refs(flow_id, outcome.id, extra)
            if RECORD_RULE not in outcome.rules or not outcome.record:
                self.report(flow_id, outcome.id, f"no record guidance: every outcome needs "
                            f"{RECORD_RULE} in `rules` and a non-empty `record` list")

    def extra_refs(self, flow_id: str, node_id: str, extra: Extra) -> None:
        for rule in extra.add_rules:
            if rule not in self.b.rules:
                self.report(flow_id, node_id, f"extra: unknown rule {rule!r}")
        for gateway in [*extra.add_gateways, *extra.remove_gateways]:
            if gateway not in self.b.gateways:
                self.report(flow_id, node_id, f"extra: unknown gateway {gateway!r}")

    def all_outcomes(self) -> Iterator[tuple[str, Outcome]]:
        for outcome in self.b.shared.outcomes:
            yield "", outcome
        for flow in self.b.flows.values():
            for node in flow.nodes:
                if isinstance(node, Outcome):
                    yield flow.id, node

    def conditions(self) -> None:
        known = self.answer_ids()
        jq = self.b.manifest.jurisdiction_question

        def check(flow_id: str, node_id: str, when, where: str) -> None:
            for atom in when.atoms():
                if atom.question not in known:
                    self.report(flow_id, node_id, f"{where}: `when` can never be true: no "
                                f"question {atom.question!r}")
                    continue
                for value in sorted(atom.values - known[atom.question]):
                    self.report(flow_id, node_id, f"{where}: `when` can never be true: "
                                f"{atom.question!r} has no answer {value!r}")

        for flow_id, q in self.questions():
            for where, target in self.targets(q):
                if "branch" in where:
                    check(flow_id, q.id, target.when, where)  # type: ignore[attr-defined]
        for flow_id, outcome in self.all_outcomes():
            for extra in outcome.extras:
                check(flow_id, outcome.id, extra.when, "extra")
        for name, extras in self.b.shared.extra_sets.items():
            for extra in extras:
                check("", f"extra_sets.{name}", extra.when, "extra")
        if jq and jq not in known:
            self.report_catalogue("manifest.yaml", "jurisdiction_question",
                                  f"no question {jq!r}")

    def cycles(self) -> bool:
        graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for flow_id, q in self.questions():
            graph[(flow_id, q.id)] = list(self.edges(flow_id, q))
        state: dict[tuple[str, str], int] = {}
        found = False

        def visit(node: tuple[str, str], trail: list[tuple[str, str]]) -> None:
            nonlocal found
            state[node] = 1
            for nxt in graph.get(node, []):
                if state.get(nxt) == 1:
                    loop = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                    text = " -> ".join(f"{f}.{n}" for f, n in loop)
                    self.report(node[0], node[1], f"cycle: {text}")
                    found = True
                elif nxt not in state:
                    visit(nxt, [*trail, nxt])
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node, [node])
        return found

    def reachability(self) -> None:
        seen: set[tuple[str, str]] = set()
        todo = [(f.id, f.start) for f in self.b.flows.values()]
        shared_used: set[str] = set()
        while todo:
            flow_id, node_id = todo.pop()
            if (flow_id, node_id) in seen:
                continue
            seen.add((flow_id, node_id))
            node = self.b.node(flow_id, node_id)
            if isinstance(node, Question):
                todo.extend(self.edges(flow_id, node))
            elif isinstance(node, Outcome) and self.b.shared_outcome(node_id) is node:
                shared_used.add(node_id)
        for flow in self.b.flows.values():
            for node in flow.nodes:
                if (flow.id, node.id) not in seen:
                    self.report(flow.id, node.id, "unreachable node: nothing leads here")
        for outcome in self.b.shared.outcomes:
            if outcome.id not in shared_used:
                self.report("", outcome.id, "unreachable outcome: no flow leads here")

    def paths(self) -> None:
        coverage = Coverage()
        for flow_id in [self.b.entry, *sorted(set(self.b.flows) - {self.b.entry})]:
            explore(self.b, flow_id, coverage)
        for flow_id, q in self.questions():
            branches = q.branches if q.multi else []
            labels = [(f"branch{i}", b) for i, b in enumerate(branches)]
            for choice in [] if q.multi else q.choices:
                labels += [(f"{choice.id}:branch{i}", b) for i, b in enumerate(choice.branches)]
            for label, _ in labels:
                if (flow_id, q.id, label) not in coverage.routes:
                    self.report(flow_id, q.id, f"`when` can never be true on any path "
                                f"({label.replace(':', ' ')})")
        for flow_id, outcome in self.all_outcomes():
            extras = self.b.extras_for(outcome)
            first_own = len(extras) - len(outcome.extras)
            for index in range(first_own, len(extras)):
                reached_here = outcome.id in coverage.outcomes
                if reached_here and (outcome.id, index) not in coverage.extras:
                    self.report(flow_id, outcome.id, f"`when` of extra #{index - first_own + 1} "
                                "can never be true on any path to this outcome")

    def repeated_questions(self) -> None:
        """Two nodes asking the same question on one path would overwrite the first answer."""
        graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
        keys: dict[tuple[str, str], str] = {}
        for flow_id, q in self.questions():
            graph[(flow_id, q.id)] = list(self.edges(flow_id, q))
            keys[(flow_id, q.id)] = q.key
        for origin, key in keys.items():
            todo, seen = list(graph[origin]), set()
            while todo:
                node = todo.pop()
                if node in seen or node not in graph:
                    continue
                seen.add(node)
                if keys[node] == key:
                    self.report(node[0], node[1], f"question {key!r} is asked twice on one "
                                f"path (first at {origin[0]}.{origin[1]})")
                    break
                todo.extend(graph[node])


def check_bundle(bundle: FlowBundle) -> list[Problem]:
    """All graph problems of a parsed bundle (empty list when the flows are sound)."""
    checker = _Checker(bundle)
    checker.duplicates()
    checker.manifest()
    checker.structure()
    checker.catalogue_refs()
    checker.conditions()
    if checker.problems:
        return checker.problems
    if checker.cycles():
        return checker.problems
    checker.reachability()
    checker.repeated_questions()
    if not checker.problems:
        checker.paths()
    return checker.problems
