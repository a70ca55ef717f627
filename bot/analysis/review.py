"""The reviewer's document: every flow as a picture, its questions and paths, and the
catalogues, so a DSL or information-governance lead can sign off the logic without YAML."""

from __future__ import annotations

from bot.analysis.diagram import mermaid
from bot.analysis.paths import FlowPath, PathStep, enumerate_paths, outcomes
from bot.core.engine import AnswerValue
from bot.flows.conditions import Atom, Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Question


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _answers(step: PathStep) -> str:
    """Every answer of a group that takes the same path (`a / b / c`), so a reviewer sees each
    answer handled, not only the first; a multi-select combination joined with `+`."""
    if isinstance(step.answer, list):
        return " + ".join(step.answer)
    return " / ".join((step.answer, *step.alternatives))


def _conditions(question: Question) -> list[Cond]:
    return [b.when for b in question.branches] if question.multi else [
        b.when for c in question.choices for b in c.branches]


def _contexts(bundle: FlowBundle, flow_id: str) -> list[Context]:
    """The earlier answers a flow's routing reads but does not ask itself (the nation, the role,
    what another flow asked), one representative per group of answers its conditions tell
    apart, so a flow entered mid-check shows every route it can take, each labelled with the
    earlier answers it needs. The first context is the usual one: each profile answer's first
    group, and another flow's question not answered. The entry flow has one empty context."""
    flow = bundle.flows[flow_id]
    asked = {n.key for n in flow.nodes if isinstance(n, Question)}
    atoms: dict[str, list[Atom]] = {}
    for node in flow.nodes:
        if isinstance(node, Question):
            for cond in _conditions(node):
                for atom in cond.atoms():
                    if atom.question not in asked:
                        atoms.setdefault(atom.question, []).append(atom)
    per_key: list[list[tuple[AnswerValue | None, str, str]]] = []
    for key in sorted(atoms):
        question = next((q for f in bundle.flows.values() for q in f.nodes
                         if isinstance(q, Question) and q.key == key), None)
        if question is None:
            continue
        groups: dict[tuple[bool, ...], list[str]] = {}
        for choice in question.choices:
            value: AnswerValue = [choice.id] if question.multi else choice.id
            groups.setdefault(tuple(a.holds({key: value}) for a in atoms[key]), []).append(choice.id)
        options: list[tuple[AnswerValue | None, str, str]] = []
        profile = key in bundle.manifest.profile_questions
        if not profile:  # another flow's question: this flow is also entered without it
            options.append((None, key, f"{key} not answered"))
        if len(groups) > 1 or not profile:
            for ids in groups.values():
                value = [ids[0]] if question.multi else ids[0]
                options.append((value, key, f"{key}={' / '.join(ids)}"))
        if profile and any(a.answered is not None for a in atoms[key]):
            options.append((None, key, f"{key} not answered"))
        if options:
            per_key.append(options)
    # the first group of every key, then each other group of one key at a time: interactions
    # between two earlier answers are left to the invariant tests, which walk every path
    base = [options[0] for options in per_key]
    contexts = [_context(base, None)]
    for index, options in enumerate(per_key):
        for option in options[1:]:
            contexts.append(_context([*base[:index], option, *base[index + 1:]], option[1]))
    return contexts


# the earlier answers to start a flow with, their labels by key, and the key this context
# changes from the first one (None for the first)
Context = tuple[dict[str, AnswerValue], dict[str, str], str | None]


def _context(options: list[tuple[AnswerValue | None, str, str]], varied: str | None) -> Context:
    preset = {key: value for value, key, _ in options if value is not None}
    return preset, {key: label for _, key, label in options}, varied


def _path_rows(bundle: FlowBundle, flow_id: str) -> list[tuple[str, str]]:
    """(answers, ends at) for every path of one flow, in every context it can be entered in;
    rows the same in every context carry no context, others say which earlier answers they
    need."""
    contexts = _contexts(bundle, flow_id)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for start in [bundle.flows[flow_id].start, *_entries(bundle, flow_id)]:
        if start in seen:
            continue
        rows: dict[tuple[str, str], list[int]] = {}
        for number, (preset, _, _) in enumerate(contexts):
            for path in enumerate_paths(bundle, flow_id, follow=False, preset=preset, start_at=start):
                rows.setdefault((_steps(path), _end(bundle, path)), []).append(number)
                seen.update(step.node for step in path.steps)
        entered = "" if start == bundle.flows[flow_id].start else f"(entered at `{start}` from another flow) "
        for (answers, end), found in rows.items():
            if len(found) < len(contexts):
                answers = f"(if earlier: {_needs(contexts, found)}) {answers}"
            out.append((entered + answers, end))
    return out


def _entries(bundle: FlowBundle, flow_id: str) -> list[str]:
    """Nodes of a flow that other flows hand over to (`goto_flow: flow_id, at: node`)."""
    found: dict[str, None] = {}
    for other in bundle.flows.values():
        for node in other.nodes:
            if not isinstance(node, Question):
                continue
            for target in node.targets():
                if target.goto_flow == flow_id and target.at:
                    found.setdefault(target.at, None)
    return list(found)


def _needs(contexts: list[Context], found: list[int]) -> str:
    """The earlier answers a row needs, from the contexts it appears in: each context but the
    first changes one key, so a row missing from a context is explained by that key."""
    if 0 not in found:
        return " or ".join(contexts[i][1][contexts[i][2] or ""] for i in found)
    base = contexts[0][1]
    needs = []
    for key in dict.fromkeys(c[2] for i, c in enumerate(contexts) if i not in found):
        assert key is not None
        groups = [base[key]] + [c[1][key] for i, c in enumerate(contexts) if i in found and c[2] == key]
        needs.append(" or ".join(groups))
    return "; ".join(needs)


def _steps(path: FlowPath) -> str:
    return "; ".join(f"{s.key}={_answers(s)}" for s in path.steps)


def _end(bundle: FlowBundle, path: FlowPath) -> str:
    if path.handover:
        end = f"flow `{path.end.flow}`" + (
            f" at `{path.end.node}`" if path.end.node != bundle.flows[path.end.flow].start else "")
    else:
        node = bundle.node(path.end.flow, path.end.node)
        end = f"**{path.end.node}** {getattr(node, 'verdict', '')}"
    if path.held:
        end += " (also " + ", ".join(f"**{h.outcome}**" for h in path.held) + ", held)"
    return end


def markdown(bundle: FlowBundle) -> str:
    m = bundle.manifest
    out = [
        "# canishare flows: reviewer's document",
        "",
        "Generated by `canishare flows paths --format markdown` from `flows/`. Do not edit by "
        "hand: change the YAML and regenerate (a test fails when this file is out of date).",
        "",
        f"- Guidance edition: {m.guidance_edition}",
        f"- Flow version hash: `{bundle.version_hash}`",
        f"- Entry flow: `{m.entry}`",
        f"- Jurisdiction: {_cell(m.jurisdiction_covered)}",
        f"- {_cell(m.disclaimer)}",
        "",
        "## Contents",
        "",
    ]
    order = [m.entry] + sorted(f for f in bundle.flows if f != m.entry)
    out += [f"- [{bundle.flows[f].title} (`{f}`)](#flow-{f.replace('_', '-')})" for f in order]
    out += ["- [Outcomes](#outcomes)", "- [Golden rules](#golden-rules)",
            "- [Legal gateways](#legal-gateways)"]
    if m.to_verify:
        out.append("- [To verify before shipping](#to-verify-before-shipping)")
    out.append("")
    if m.edition_changes:
        out += ["## What changed in this edition", "",
                "For sign-off by a DSL or information-governance lead: each change, in plain words.",
                ""]
        out += [f"{n}. {_cell(change)}" for n, change in enumerate(m.edition_changes, 1)]
        out.append("")
    for flow_id in order:
        flow = bundle.flows[flow_id]
        out += [f"## Flow {flow_id}", "", f"**{flow.title}** (version {flow.version}). "
                f"{_cell(flow.description)}", ""]
        if flow.sources:
            out += ["Sources: " + "; ".join(flow.sources), ""]
        out += ["```mermaid", mermaid(bundle, flow_id).rstrip(), "```", "",
                "| question | text | answers |", "|---|---|---|"]
        for node in flow.nodes:
            if isinstance(node, Question):
                kind = " (choose all that apply)" if node.multi else ""
                answers = ", ".join(f"`{c.id}` {_cell(c.label)}" for c in node.choices)
                out.append(f"| `{node.key}` | {_cell(node.text)}{kind} | {answers} |")
        out += ["", "Paths (hand-overs to another flow end the row):", "",
                "Answers joined by `/` take the same path; `+` joins answers chosen together.", "",
                "| # | answers | ends at |", "|---|---|---|"]
        for number, (answers, end) in enumerate(_path_rows(bundle, flow_id), 1):
            out.append(f"| {number} | {_cell(answers)} | {end} |")
        out.append("")
    out += ["## Outcomes", "", "The headline is the one-line action a person reads first; `{term}` is "
            "the nation's own word (manifest `terms`).", "",
            "| id | verdict | consent | rules | gateways (before extras) | DSL alert | headline | "
            "because |", "|---|---|---|---|---|---|---|---|"]
    for outcome in sorted(outcomes(bundle), key=lambda o: o.id):
        out.append(
            f"| {outcome.id} | {outcome.verdict.value} | {outcome.consent_position.value} | "
            f"{', '.join(outcome.rules)} | {', '.join(outcome.gateways) or '—'} | "
            f"{outcome.dsl_alert.value} | {_cell(outcome.headline)} | {_cell(outcome.because)} |"
        )
    out += ["", "## Golden rules", "", "| id | rule | source |", "|---|---|---|"]
    for rule in bundle.rules_catalogue.rules:
        out.append(f"| {rule.id} | {_cell(rule.paraphrase)} | {_cell(rule.source)} |")
    out += ["", "## Legal gateways", "", "| id | status | permits | who | source |",
            "|---|---|---|---|---|"]
    for gateway in bundle.gateways.values():
        out.append(f"| `{gateway.id}` | {gateway.status.value} | {_cell(gateway.permits)} | "
                   f"{_cell(gateway.who)} | {_cell(gateway.source)} |")
    if m.to_verify:
        out += ["", "## To verify before shipping", "",
                "[K]: from general knowledge of the law, not re-read; [P]: not yet in force or "
                "commencement not confirmed. The answers carry a caveat until each is checked.", ""]
        out += [f"- {_cell(point)}" for point in m.to_verify]
    return "\n".join(out) + "\n"
