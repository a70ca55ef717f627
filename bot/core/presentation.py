"""What an outcome says, in order, independent of the channel that shows it.

Every adapter renders the same `OutcomeView`, so the verdict always comes first and the rules,
gateways, record guidance and disclaimer are never dropped by one channel and kept by another.
A finished check is one view (`step_view`): the primary outcome with its secondary outcomes
inside. All words come from the flow files, in the nation's own terms (`localised`); this module
only arranges them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from bot.core.engine import Engine, OutcomeStep, ResolvedOutcome
from bot.flows.law import law_as_at_line
from bot.flows.loader import FlowBundle
from bot.flows.schema import ActionItem, Question


@dataclass(frozen=True)
class Cited:
    id: str
    title: str
    text: str
    source: str
    caveat: str = ""


@dataclass(frozen=True)
class OutcomeView:
    """One outcome as a person reads it. `secondary` are the further answers of the same check
    (guidance C0: shown under the primary as "Also:"), each a view of its own."""

    id: str
    verdict: str
    verdict_label: str  # in the nation's own words (W4)
    headline: str  # the one-line action: who does what, by when (W5)
    summary: str
    because: list[str]  # the exception or condition the answers triggered (W2)
    actions: list[ActionItem]  # every step, who / what / by when (W6)
    consent_label: str
    rules: list[Cited]
    gateways: list[Cited]
    what_to_share: str
    checklist: list[str]
    tell_family: str
    protect_identities: list[str]  # golden rule 5 lines that fit this case (W9)
    profession_notes: list[str]  # for the person's own profession only (W3)
    record: list[str]
    dsl_alert: str
    dsl_alert_label: str
    next_steps: list[str]
    notes: list[str]
    jurisdiction: str
    disclaimer: str
    raised_by: str = "reached"
    secondary: tuple[OutcomeView, ...] = ()
    # Edition 3: duties on the person themselves come first in every channel (U5), then how soon
    # (U1-U4), the date of the law applied (T4) and notes of law not yet in force (T5).
    personal_duties: tuple[Cited, ...] = ()
    urgency: str = "routine"
    urgency_label: str = ""
    law_as_at: str = ""  # "The law as at 7 December 2026."
    law_notes: tuple[str, ...] = ()


def note_line(kind: str, title: str, text: str) -> str:
    """T5: a coming provision reads "Coming: ... (not yet in force; no duty yet)"."""
    if kind == "coming":
        return f"Coming: {title}. {text} (not yet in force; no duty yet)"
    return f"{title}: {text}"


def outcome_view(bundle: FlowBundle, outcome: ResolvedOutcome,
                 secondary: Iterable[ResolvedOutcome] = ()) -> OutcomeView:
    manifest = bundle.manifest
    rules = bundle.rules
    dated = Engine(bundle).at(outcome.law_as_at)  # citations as at the decision's date (T7)

    def cite(text: str) -> str:
        return dated.localise(text, "default")

    checklist = {c.id: c.text for c in bundle.rules_catalogue.checklist}
    fields = {f.id: f.label for f in bundle.rules_catalogue.record_fields}
    cited_rules = [
        Cited(r, rules[r].name.replace("_", " "), cite(rules[r].paraphrase), cite(rules[r].source))
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
        cited_gateways.append(Cited(g, gw.title, cite(gw.permits), cite(gw.source), caveat))
    return OutcomeView(
        id=outcome.id,
        verdict=outcome.verdict.value,
        verdict_label=outcome.verdict_label or manifest.verdict_labels[outcome.verdict],
        headline=outcome.headline,
        summary=outcome.summary or "",
        because=list(outcome.because),
        actions=list(outcome.actions),
        consent_label=manifest.consent_labels[outcome.consent_position],
        rules=cited_rules,
        gateways=cited_gateways,
        what_to_share=outcome.what_to_share,
        checklist=[checklist[c] for c in outcome.share_checklist if c in checklist],
        tell_family=outcome.tell_family,
        protect_identities=list(outcome.protect_identities),
        profession_notes=list(outcome.profession_notes),
        record=[fields[r] for r in outcome.record if r in fields],
        dsl_alert=outcome.dsl_alert.value,
        dsl_alert_label=manifest.dsl_alert_labels[outcome.dsl_alert],
        next_steps=outcome.next_steps,
        notes=outcome.notes,
        jurisdiction=manifest.jurisdiction_covered,
        disclaimer=manifest.disclaimer,
        raised_by=outcome.raised_by,
        secondary=tuple(outcome_view(bundle, s) for s in secondary),
        personal_duties=tuple(
            Cited(d, "Your own duty", manifest.personal_duties[d].text, manifest.personal_duties[d].source)
            for d in outcome.personal_duties if d in manifest.personal_duties),
        urgency=outcome.urgency.value,
        urgency_label=manifest.urgency_labels.get(outcome.urgency, ""),
        law_as_at=law_as_at_line(outcome.law_as_at) if outcome.law_as_at.year < 9999 else "",
        law_notes=tuple(note_line(n.kind, n.title, n.text) for n in outcome.law_notes),
    )


def step_view(bundle: FlowBundle, step: OutcomeStep) -> OutcomeView:
    """The answer of a finished check: the primary outcome with its secondary ones inside."""
    return outcome_view(bundle, step.outcome, step.secondary)


def questions_asking(bundle: FlowBundle, key: str) -> Iterator[Question]:
    """Every question node whose answer key is `key`, in flow order."""
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question) and node.key == key:
                yield node


def localised(bundle: FlowBundle, text: str, answers: Mapping[str, object] | None = None) -> str:
    """`text` in the nation's own terms (W4), for the nation in `answers` (default terms without
    one): question texts and labels hold `{term}` placeholders until a nation is known."""
    nation = (answers or {}).get(bundle.manifest.jurisdiction_question or "")
    return Engine(bundle).localise(text, nation if isinstance(nation, str) else "default")


def answer_label(bundle: FlowBundle, key: str, value: str,
                 answers: Mapping[str, object] | None = None) -> str:
    """The label a person saw for an answer id (the first question asking `key` that offers it)."""
    for question in questions_asking(bundle, key):
        choice = question.choice(value)
        if choice is not None:
            return localised(bundle, choice.label, answers)
    return value.replace("_", " ")


def question_text(bundle: FlowBundle, key: str, answers: Mapping[str, object] | None = None) -> str:
    """The text of the (first) question that asks `key`, in the nation's terms."""
    question = next(questions_asking(bundle, key), None)
    return localised(bundle, question.text, answers) if question else key.replace("_", " ")


def verdict_label(bundle: FlowBundle, verdict: str, answers: Mapping[str, object] | None = None) -> str:
    """A verdict id in the words of the nation in `answers` ("Refer to social work services")."""
    label = next((text for v, text in bundle.manifest.verdict_labels.items() if v.value == verdict), None)
    return localised(bundle, label, answers) if label else verdict.replace("_", " ")


def decision_label(bundle: FlowBundle, row: Mapping[str, object]) -> str:
    """The verdict of a logged decision, in the words of the nation it was logged for."""
    return verdict_label(bundle, str(row.get("verdict", "")),
                         {bundle.manifest.jurisdiction_question or "": row.get("jurisdiction")})


def profile_line(bundle: FlowBundle, profile: Mapping[str, str]) -> str:
    """The remembered profile in a few words, for "You are answering as: England, NHS or health,
    nurse or midwife": the manifest's short wording of each answer, else the answer's label."""
    short = bundle.manifest.profile_labels
    keys = [k for k in bundle.manifest.profile_questions if k in profile]
    keys += [k for k in profile if k not in keys]
    return ", ".join(short.get(k, {}).get(profile[k]) or answer_label(bundle, k, profile[k], profile)
                     for k in keys)


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
