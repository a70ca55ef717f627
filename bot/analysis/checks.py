"""Graph checks over a parsed bundle: the mistakes a schema cannot see.

Each check returns `Problem`s located where the fault is (file:line of the choice, branch or
key, not just its node) so an author can fix the YAML without reading Python. The static
checks always run, even on a bundle that schema repair patched, so one run reports every
problem; the whole-graph checks (cycles, reachability, conditions no path can meet) run only
on a sound graph, because walking a broken one would report noise.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from bot.analysis.paths import Coverage, condition_groups, explore
from bot.flows.conditions import Cond
from bot.flows.loader import FlowBundle, Problem
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
TERM = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
Steps = tuple[tuple[str, str | int | None], ...]


class _Checker:
    def __init__(self, bundle: FlowBundle):
        self.b = bundle
        self.problems: list[Problem] = []

    def report(self, flow: str, node: str, message: str, steps: Steps = ()) -> None:
        if message.startswith("dead end") and (flow, node) in self.b.repaired_nodes:
            return  # the schema error that removed the key is already reported
        file, line = self.b.where_in(flow, node, *steps) if steps else self.b.where(flow, node)
        self.problems.append(Problem(file, line, node or flow, message))

    def report_catalogue(self, file_key: str, item: str, message: str) -> None:
        file, line = self.b.locations.get((file_key, item), (str(self.b.directory / file_key), 1))
        self.problems.append(Problem(file, line, item, message))

    def report_conventions(self, item: str, message: str) -> None:
        doc = self.b.docs.get("conventions.yaml")
        file = str(doc.path) if doc else str(self.b.directory / "conventions.yaml")
        line = doc.line_of_ids((item.split(".")[0], None)) if doc else 1
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

    def targets(self, question: Question) -> Iterator[tuple[str, Target, Steps]]:
        for index, branch in enumerate(question.branches):
            yield "branch", branch, (("branches", index),)
        if question.is_set:
            yield "next", question, (("next" if question.next else "goto_flow", None),)
        for choice in question.choices:
            for index, branch in enumerate(choice.branches):
                yield (f"choice {choice.id!r} branch", branch,
                       (("choices", choice.id), ("branches", index)))
            if choice.is_set:
                yield f"choice {choice.id!r}", choice, (("choices", choice.id),)

    def edges(self, flow_id: str, question: Question) -> Iterator[tuple[str, str]]:
        for _, target, _ in self.targets(question):
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
                            self.report(flow.id, node.id, f"duplicate answer id {choice_id!r}",
                                        (("choices", choice_id),))
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
        known = self.answer_ids()
        for key in m.profile_questions:
            if key not in known:
                self.report_catalogue("manifest.yaml", "profile_questions",
                                      f"profile question {key!r} is not asked by any flow")
        for key, labels in m.profile_labels.items():
            if key not in m.profile_questions:
                self.report_catalogue("manifest.yaml", "profile_labels",
                                      f"{key!r} is not one of the profile_questions")
            for answer in labels:
                if key in known and answer not in known[key]:
                    self.report_catalogue("manifest.yaml", "profile_labels",
                                          f"{key!r} has no answer {answer!r}")
        for retired in m.retired:
            if retired.now_key and retired.now_key not in known:
                self.report_catalogue("manifest.yaml", "retired",
                                      f"retired {retired.key!r}: no question {retired.now_key!r}")
            if retired.now_answer and retired.now_answer not in known.get(retired.key, set()):
                self.report_catalogue("manifest.yaml", "retired",
                                      f"retired {retired.key}={retired.answer}: "
                                      f"{retired.key!r} has no answer {retired.now_answer!r}")

    def structure(self) -> None:
        for flow in self.b.flows.values():
            if self.b.node(flow.id, flow.start) is None and flow.start not in self.b.broken_ids:
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
                                    "default `next` or `goto_flow`", (("choices", choice.id),))
            for where, target, steps in self.targets(q):
                self.target(flow_id, q.id, where, target, steps)

    def target(self, flow_id: str, node_id: str, where: str, target: Target,
               steps: Steps = ()) -> None:
        if target.goto_flow:
            other = self.b.flows.get(target.goto_flow)
            if other is None:
                self.report(flow_id, node_id, f"{where}: unknown flow {target.goto_flow!r}", steps)
            elif (target.at and self.b.node(other.id, target.at) is None
                  and target.at not in self.b.broken_ids):
                self.report(flow_id, node_id,
                            f"{where}: unknown node {target.at!r} in flow {other.id!r}", steps)
        elif (target.next and self.b.node(flow_id, target.next) is None
              and target.next not in self.b.broken_ids):
            self.report(flow_id, node_id, f"{where}: unknown node {target.next!r}", steps)

    def same_answers_per_key(self) -> None:
        """Nodes asking one question (`asks`) must offer the same answers, so an answer given on
        one route can stand for the other (one key per fact, INV14a)."""
        first: dict[str, tuple[str, Question]] = {}
        for flow_id, q in self.questions():
            if q.key not in first:
                first[q.key] = (flow_id, q)
                continue
            other_flow, other = first[q.key]
            if {c.id for c in q.choices} != {c.id for c in other.choices}:
                self.report(flow_id, q.id, f"asks {q.key!r} like {other_flow}.{other.id} but "
                            "offers different answers")

    def catalogue_refs(self) -> None:
        rules = set(self.b.rules)
        checklist = {c.id for c in self.b.rules_catalogue.checklist}
        record_fields = {f.id for f in self.b.rules_catalogue.record_fields}
        for legacy in self.b.rules_catalogue.legacy_rules:
            for rule in legacy.maps_to:
                if rule not in rules:
                    self.report_catalogue("rules.yaml", legacy.id, f"unknown rule {rule!r}")
        for gateway in self.b.gateways.values():
            for needed in gateway.requires_one_of:
                if needed not in self.b.gateways:
                    self.report_catalogue("gateways.yaml", gateway.id,
                                          f"requires_one_of: unknown gateway {needed!r}")
        for name, extras in self.b.shared.extra_sets.items():
            for extra in extras:
                self.extra_refs("", f"extra_sets.{name}", extra)
        for extra in self.b.shared.always:
            self.extra_refs("", "always", extra)
        for flow_id, outcome in self.all_outcomes():
            for index, rule in enumerate(outcome.rules):
                if rule not in rules:
                    self.report(flow_id, outcome.id, f"unknown rule {rule!r} (not in rules.yaml)",
                                (("rules", index),))
            for index, gateway in enumerate(outcome.gateways):
                if gateway not in self.b.gateways:
                    self.report(flow_id, outcome.id,
                                f"unknown gateway {gateway!r} (not in gateways.yaml)",
                                (("gateways", index),))
            for index, item in enumerate(outcome.share_checklist):
                if item not in checklist:
                    self.report(flow_id, outcome.id, f"unknown checklist item {item!r}",
                                (("share_checklist", index),))
            for index, item in enumerate(outcome.record):
                if item not in record_fields:
                    self.report(flow_id, outcome.id, f"unknown record field {item!r}",
                                (("record", index),))
            for index, name in enumerate(outcome.include):
                if name not in self.b.shared.extra_sets:
                    self.report(flow_id, outcome.id, f"unknown extra set {name!r}",
                                (("include", index),))
            for index, extra in enumerate(outcome.extras):
                self.extra_refs(flow_id, outcome.id, extra, (("extras", index),))
            for index, duty in enumerate(outcome.personal_duties):
                if duty not in self.b.manifest.personal_duties:
                    self.report(flow_id, outcome.id, f"unknown personal duty {duty!r} (not in "
                                "manifest.yaml `personal_duties`)", (("personal_duties", index),))
            if RECORD_RULE not in outcome.rules or not outcome.record:
                self.report(flow_id, outcome.id, f"no record guidance: every outcome needs "
                            f"{RECORD_RULE} in `rules` and a non-empty `record` list")

    def extra_refs(self, flow_id: str, node_id: str, extra: Extra, steps: Steps = ()) -> None:
        record_fields = {f.id for f in self.b.rules_catalogue.record_fields}
        for rule in extra.add_rules:
            if rule not in self.b.rules:
                self.report(flow_id, node_id, f"extra: unknown rule {rule!r}", steps)
        for gateway in [*extra.add_gateways, *extra.remove_gateways]:
            if gateway not in self.b.gateways:
                self.report(flow_id, node_id, f"extra: unknown gateway {gateway!r}", steps)
        for item in extra.add_record:
            if item not in record_fields:
                self.report(flow_id, node_id, f"extra: unknown record field {item!r}", steps)
        for duty in extra.add_personal_duties:
            if duty not in self.b.manifest.personal_duties:
                self.report(flow_id, node_id, f"extra: unknown personal duty {duty!r} (not in "
                            "manifest.yaml `personal_duties`)", steps)
        for note in extra.add_law_notes:
            if note not in self.b.law_notes:
                self.report(flow_id, node_id, f"extra: unknown note {note!r} (not in gateways.yaml "
                            "`notes`)", steps)

    def all_outcomes(self) -> Iterator[tuple[str, Outcome]]:
        for outcome in self.b.shared.outcomes:
            yield "", outcome
        for flow in self.b.flows.values():
            for node in flow.nodes:
                if isinstance(node, Outcome):
                    yield flow.id, node

    def when(self, known: dict[str, set[str]], cond: Cond) -> list[str]:
        """Why a condition can never be true: unknown questions or answers."""
        found = []
        for atom in cond.atoms():
            if atom.question not in known:
                found.append(f"`when` can never be true: no question {atom.question!r}")
                continue
            for value in sorted(atom.values - known[atom.question]):
                found.append(f"`when` can never be true: {atom.question!r} has no answer {value!r}")
        return found

    def conditions(self) -> None:
        known = self.answer_ids()
        jq = self.b.manifest.jurisdiction_question
        for flow_id, q in self.questions():
            for where, target, steps in self.targets(q):
                if "branch" in where:
                    for message in self.when(known, target.when):  # type: ignore[attr-defined]
                        self.report(flow_id, q.id, f"{where}: {message}", steps)
        for flow_id, outcome in self.all_outcomes():
            for index, extra in enumerate(outcome.extras):
                for message in self.when(known, extra.when):
                    self.report(flow_id, outcome.id, f"extra: {message}", (("extras", index),))
        for name, extras in self.b.shared.extra_sets.items():
            for extra in extras:
                for message in self.when(known, extra.when):
                    self.report("", f"extra_sets.{name}", f"extra: {message}")
        for extra in self.b.shared.always:
            for message in self.when(known, extra.when):
                self.report("", "always", f"extra: {message}")
        if jq and jq not in known:
            self.report_catalogue("manifest.yaml", "jurisdiction_question",
                                  f"no question {jq!r}")

    def conventions(self) -> None:
        c = self.b.conventions
        known = self.answer_ids()
        if sorted(c.precedence) != sorted(Verdict):
            self.report_conventions("precedence", "precedence must list every verdict once")
        for index, rule in enumerate(c.implications):
            for message in self.when(known, rule.when):
                self.report_conventions(f"implications.{index + 1}", message)
            for key, value in rule.implies.items():
                if value not in known.get(key, set()):
                    self.report_conventions(f"implications.{index + 1}",
                                            f"implies {key}={value}: no such question or answer")
        for index, rule in enumerate(c.raises):
            for message in self.when(known, rule.when):
                self.report_conventions(f"raises.{index + 1}", message)
            if self.b.shared_outcome(rule.outcome) is None:
                self.report_conventions(f"raises.{index + 1}",
                                        f"unknown shared outcome {rule.outcome!r}")
        for index, rule in enumerate(c.record_then_refer):
            for message in self.when(known, rule.when):
                self.report_conventions(f"record_then_refer.{index + 1}", message)
            if rule.goto_flow and rule.goto_flow not in self.b.flows:
                self.report_conventions(f"record_then_refer.{index + 1}",
                                        f"unknown flow {rule.goto_flow!r}")
            elif rule.goto_flow and rule.at and self.b.node(rule.goto_flow, rule.at) is None:
                self.report_conventions(f"record_then_refer.{index + 1}",
                                        f"unknown node {rule.at!r} in flow {rule.goto_flow!r}")
            elif rule.next and self.b.shared_outcome(rule.next) is None:
                self.report_conventions(f"record_then_refer.{index + 1}",
                                        f"unknown shared outcome {rule.next!r}")
        if c.dont_tell_family is not None:
            for message in self.when(known, c.dont_tell_family.when):
                self.report_conventions("dont_tell_family", message)
        for table_name in ("because", "identity_lines", "notes_by_answer"):
            for key, table in getattr(c, table_name).items():
                for answer in table:
                    if answer not in known.get(key, set()):
                        self.report_conventions(table_name, f"{key}={answer}: no such question "
                                                "or answer")
        if c.profession_question and c.profession_question not in known:
            self.report_conventions("profession_question", f"no question {c.profession_question!r}")
        for profession in c.profession_notes:
            if profession not in known.get(c.profession_question or "", set()):
                self.report_conventions("profession_notes", f"{profession!r} is not a profession "
                                        "answer")
        read = {a.question for g in condition_groups(self.b, True) for cond in g.conds
                for a in cond.atoms()}
        for key in c.route_only:
            if key not in known:
                self.report_conventions("route_only", f"no question {key!r}")
            elif key in read:
                self.report_conventions("route_only", f"{key!r} is read by a condition, so it "
                                        "is not route-only")
        for flow_id, q in self.questions():
            for core in q.cores:
                if core not in c.cores:
                    self.report(flow_id, q.id, f"unknown core {core!r} (not in conventions.cores)")
        for flow_id, outcome in self.all_outcomes():
            for entry in outcome.because_from:
                key, _, only = entry.partition("=")
                if key not in known:
                    self.report(flow_id, outcome.id, f"because_from: no question {key!r}")
                elif only and only not in c.because.get(key, {}):
                    self.report(flow_id, outcome.id, f"because_from: no text for {entry!r} in "
                                "conventions `because`")

    def terms(self) -> None:
        """Every `{term}` in a text must be a manifest term, so nobody reads a placeholder."""
        terms = {t.lower() for t in self.b.manifest.terms}

        def check(flow_id: str, node_id: str, *texts: str | None) -> None:
            for text in texts:
                for name in TERM.findall(text or ""):
                    if name.lower() not in terms:
                        self.report(flow_id, node_id, f"unknown term {{{name}}} (not in "
                                    "manifest terms)")

        for flow_id, q in self.questions():
            check(flow_id, q.id, q.text, q.help, *(c.label for c in q.choices),
                  *(c.help for c in q.choices))
        for flow_id, o in self.all_outcomes():
            extras = self.b.extras_for(o)
            check(flow_id, o.id, o.headline, o.summary, o.because, o.what_to_share,
                  o.tell_family, *o.next_steps, *(a.what for a in o.actions),
                  *(a.who for a in o.actions), *(a.by_when for a in o.actions),
                  *(n for e in extras for n in e.add_notes),
                  *(n for e in extras for n in e.add_next_steps),
                  *(n for e in extras for n in e.add_because),
                  *(e.set_headline for e in extras), *(e.set_tell_family for e in extras),
                  *(a.what for e in extras for a in e.add_actions))
        check("", "verdict_labels", *self.b.manifest.verdict_labels.values())

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
        shared_used = {rule.outcome for rule in self.b.conventions.raises}
        for rule in self.b.conventions.record_then_refer:
            if rule.goto_flow and rule.goto_flow in self.b.flows:
                todo.append((rule.goto_flow, rule.at or self.b.flows[rule.goto_flow].start))
            elif rule.next:
                shared_used.add(rule.next)
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

    @staticmethod
    def dated_branch(question: Question, label: str) -> bool:
        choice_id, _, branch = label.rpartition(":")
        index = int(branch.removeprefix("branch"))
        owner = question.choice(choice_id) if choice_id else question
        return owner is not None and owner.branches[index].dated

    def paths(self) -> None:
        coverage = Coverage()
        for flow_id in [self.b.entry, *sorted(set(self.b.flows) - {self.b.entry})]:
            explore(self.b, flow_id, coverage)
        for flow_id, q in self.questions():
            if q.multi:
                labels = [(f"branch{i}", (("branches", i),)) for i in range(len(q.branches))]
            else:
                labels = [(f"{c.id}:branch{i}", (("choices", c.id), ("branches", i)))
                          for c in q.choices for i in range(len(c.branches))]
            for label, steps in labels:
                if self.dated_branch(q, label):
                    continue  # taken only at some dates: the law-in-time checks (T9) walk those
                if (flow_id, q.id, label) not in coverage.routes:
                    self.report(flow_id, q.id, f"`when` can never be true on any path "
                                f"({label.replace(':', ' ')})", steps)
        for flow_id, outcome in self.all_outcomes():
            extras = self.b.extras_for(outcome)
            first_own = len(extras) - len(outcome.extras)
            for index in range(first_own, len(extras)):
                reached_here = outcome.id in coverage.outcomes
                if extras[index].dated:
                    continue
                if reached_here and (outcome.id, index) not in coverage.extras:
                    self.report(flow_id, outcome.id, f"`when` of extra #{index - first_own + 1} "
                                "can never be true on any path to this outcome",
                                (("extras", index - first_own),))


def check_bundle(bundle: FlowBundle, schema_ok: bool = True, paths: bool = False) -> list[Problem]:
    """All graph problems of a parsed bundle (empty list when the flows are sound).

    The static checks always run; the whole-graph ones only when nothing else is wrong
    (`schema_ok` says whether the files passed the schema unrepaired). `paths` adds the
    conditions no path can meet: that walks every path, so `canishare flows check` (and CI)
    runs it, not every start-up."""
    checker = _Checker(bundle)
    checker.duplicates()
    checker.manifest()
    checker.structure()
    checker.same_answers_per_key()
    checker.catalogue_refs()
    checker.conditions()
    checker.conventions()
    checker.terms()
    if checker.problems or not schema_ok:
        return checker.problems
    if checker.cycles():
        return checker.problems
    checker.reachability()
    if paths and not checker.problems:
        checker.paths()
    return checker.problems
