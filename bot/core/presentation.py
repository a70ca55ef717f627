"""What an outcome says, in order, independent of the channel that shows it.

Every adapter renders the same `OutcomeView`, so the verdict always comes first and the rules,
gateways, record guidance and disclaimer are never dropped by one channel and kept by another.
All words come from the flow files; this module only arranges them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bot.core.engine import ResolvedOutcome
from bot.flows.loader import FlowBundle
from bot.flows.schema import Question


@dataclass(frozen=True)
class Cited:
    id: str
    title: str
    text: str
    source: str
    caveat: str = ""


@dataclass(frozen=True)
class OutcomeView:
    id: str
    verdict: str
    verdict_label: str
    headline: str
    summary: str
    consent_label: str
    rules: list[Cited]
    gateways: list[Cited]
    what_to_share: str
    checklist: list[str]
    tell_family: str
    record: list[str]
    dsl_alert: str
    dsl_alert_label: str
    next_steps: list[str]
    notes: list[str]
    jurisdiction: str
    disclaimer: str


def outcome_view(bundle: FlowBundle, outcome: ResolvedOutcome) -> OutcomeView:
    manifest = bundle.manifest
    rules = bundle.rules
    checklist = {c.id: c.text for c in bundle.rules_catalogue.checklist}
    fields = {f.id: f.label for f in bundle.rules_catalogue.record_fields}
    cited_rules = [
        Cited(r, rules[r].name.replace("_", " "), rules[r].paraphrase, rules[r].source)
        for r in outcome.rules if r in rules
    ]
    cited_gateways = []
    for g in outcome.gateways:
        gw = bundle.gateways.get(g)
        if gw is None:
            continue
        caveat = ""
        if gw.status.value == "pending":
            caveat = "Not yet in force: do not rely on it alone."
        elif not gw.verified:
            caveat = "Check the detail with your DPO or legal adviser."
        cited_gateways.append(Cited(g, gw.title, gw.permits, gw.source, caveat))
    return OutcomeView(
        id=outcome.id,
        verdict=outcome.verdict.value,
        verdict_label=manifest.verdict_labels[outcome.verdict],
        headline=outcome.headline,
        summary=outcome.summary or "",
        consent_label=manifest.consent_labels[outcome.consent_position],
        rules=cited_rules,
        gateways=cited_gateways,
        what_to_share=outcome.what_to_share,
        checklist=[checklist[c] for c in outcome.share_checklist if c in checklist],
        tell_family=outcome.tell_family,
        record=[fields[r] for r in outcome.record if r in fields],
        dsl_alert=outcome.dsl_alert.value,
        dsl_alert_label=manifest.dsl_alert_labels[outcome.dsl_alert],
        next_steps=outcome.next_steps,
        notes=outcome.notes,
        jurisdiction=manifest.jurisdiction_covered,
        disclaimer=manifest.disclaimer,
    )


def outcome_text(view: OutcomeView, width: int = 78) -> str:
    """Plain text for the terminal (and logs): verdict first, then everything else."""
    bar = "=" * min(width, 78)
    lines = [bar, f"VERDICT: {view.verdict_label.upper()}", view.headline, bar]
    if view.summary:
        lines += [view.summary, ""]
    lines += [f"Consent: {view.consent_label}", f"DSL: {view.dsl_alert_label}", ""]
    if view.notes:
        lines += ["Important:"] + [f"  ! {note}" for note in view.notes] + [""]
    lines += ["What to share and how:", f"  {view.what_to_share}"]
    lines += [f"  - {item}" for item in view.checklist]
    lines += ["", "Telling the child or family:", f"  {view.tell_family}", ""]
    if view.next_steps:
        lines += ["Next steps:"] + [f"  {n}. {s}" for n, s in enumerate(view.next_steps, 1)]
        lines.append("")
    if view.rules:
        lines.append("Golden rules:")
        for rule in view.rules:
            lines += [f"  {rule.id} {rule.title}: {rule.text}", f"      Source: {rule.source}"]
        lines.append("")
    if view.gateways:
        lines.append("Legal gateways:")
        for gw in view.gateways:
            lines += [f"  {gw.title} [{gw.id}]: {gw.text}", f"      Source: {gw.source}"]
            if gw.caveat:
                lines.append(f"      Note: {gw.caveat}")
        lines.append("")
    lines += ["Record (golden rule 7):"] + [f"  - {item}" for item in view.record]
    lines += ["", f"Covers: {view.jurisdiction}", view.disclaimer, bar]
    return "\n".join(lines)


def questions_asking(bundle: FlowBundle, key: str) -> Iterator[Question]:
    """Every question node whose answer key is `key`, in flow order."""
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question) and node.key == key:
                yield node


def answer_label(bundle: FlowBundle, key: str, value: str) -> str:
    """The label a person saw for an answer id (the first question asking `key` that offers it)."""
    for question in questions_asking(bundle, key):
        choice = question.choice(value)
        if choice is not None:
            return choice.label
    return value.replace("_", " ")


def question_text(bundle: FlowBundle, key: str) -> str:
    """The text of the (first) question that asks `key`."""
    question = next(questions_asking(bundle, key), None)
    return question.text if question else key.replace("_", " ")


def answer_problem(question: Question, value: object) -> str:
    """Why an answer did not fit, in the words the person saw (never an answer id)."""
    values = value if isinstance(value, list) else [value]
    chosen = [c for c in question.choices if c.id in values]
    if question.multi and not chosen:
        return "Choose at least one answer."
    exclusive = [c for c in chosen if c.exclusive]
    if question.multi and exclusive and len(chosen) > 1:
        return f"\u201c{exclusive[0].label}\u201d can't be combined with other answers: choose it on its own."
    if len(chosen) != len(values):
        return "That answer isn't one of the choices: please choose again."
    return "That answer did not fit this question: please choose again."
