"""The answer a worried person reads first, the same in every channel: the verdict, one line that
says who does what by when, the consent line, the DSL line and one line per further answer
("Also:"); everything else (why this applies, the steps, what to share, the family, identities,
notes for your profession, the rules and the law with their sources, what to record) on demand.
Channels lay these pieces out; they never choose or reword them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.presentation import OutcomeView
from bot.dsl.ports import EscalationNotice
from bot.flows.schema import ActionItem

PRACTICE = "PRACTICE: nothing is recorded and no DSL is alerted."


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


@dataclass(frozen=True)
class ShortAnswer:
    """`duties` come before everything, the verdict included (U5: a personal duty is never
    replaced by "tell your DSL"); `law_as_at` closes it (T4)."""

    verdict: str
    action: str  # who does what, by when
    consent: str
    dsl: str
    also: list[str] = field(default_factory=list)  # secondary answers, one line each
    practice: bool = False
    delivered: bool | None = None  # the escalation's delivery, when one was raised
    duties: list[str] = field(default_factory=list)  # "You must report this to the police yourself, ..."
    urgency: str = ""  # how soon, in plain words
    law_as_at: str = ""  # "The law as at 7 December 2026."


def action_line(view: OutcomeView) -> str:
    """The one-line action (guidance W5): the outcome's headline, written as who does what by
    when in at most 120 characters."""
    return view.headline


def step_line(action: ActionItem) -> str:
    """One step of an outcome (W6): "You, now: Tell your DSL ..."."""
    return f"{action.who}, {action.by_when}: {action.what}"


def also_line(view: OutcomeView) -> str:
    """A secondary answer in one line: its verdict and its own one-line action."""
    return f"{view.verdict_label}: {action_line(view)}"


def short_answer(view: OutcomeView, escalation: EscalationNotice | None = None, *, practice: bool = False,
                 secondary: list[OutcomeView] | None = None) -> ShortAnswer:
    """`secondary` defaults to the view's own further answers (`step_view`)."""
    dsl = view.dsl_alert_label
    delivered = None
    if practice:
        dsl = "Practice: no DSL is alerted."
    elif escalation is not None:
        dsl, delivered = escalation.text(), escalation.delivered
    further = view.secondary if secondary is None else secondary
    return ShortAnswer(view.verdict_label, action_line(view), view.consent_label, dsl,
                       [also_line(s) for s in further], practice, delivered,
                       duties=[d.text for d in view.personal_duties], urgency=view.urgency_label,
                       law_as_at=view.law_as_at)


def details(view: OutcomeView) -> list[Section]:
    """The rest of the answer, in the order a DSL would check it: why this applies first."""
    sections: list[Section] = []
    if view.personal_duties:
        sections.append(Section("Your own duty (telling your DSL does not discharge it)",
                                [f"{d.text} (Source: {d.source})" for d in view.personal_duties]))
    why = [*view.because, *([view.summary] if view.summary else [])]
    if why:
        sections.append(Section("Why this applies", why))
    if view.notes:
        sections.append(Section("Important", view.notes))
    if view.law_notes:
        sections.append(Section("Law coming in", list(view.law_notes)))
    steps = [step_line(a) for a in view.actions] + view.next_steps
    if steps:
        sections.append(Section("Next steps", [f"{n}. {s}" for n, s in enumerate(steps, 1)]))
    share = [view.what_to_share] + [f"- {c}" for c in view.checklist]
    sections.append(Section("What to share and how", share))
    sections.append(Section("Telling the child or family", [view.tell_family]))
    if view.protect_identities:
        sections.append(Section("Protecting identities (golden rule 5)", view.protect_identities))
    if view.profession_notes:
        sections.append(Section("For your profession", view.profession_notes))
    if view.rules:
        sections.append(Section("Golden rules", [f"{r.title.capitalize()}: {r.text} (Source: {r.source})"
                                                 for r in view.rules]))
    if view.gateways:
        sections.append(Section("The law", [f"{g.title}: {g.text} (Source: {g.source})"
                                            + (f" {g.caveat}" if g.caveat else "") for g in view.gateways]))
    sections.append(Section("Record (golden rule 7)", [f"- {item}" for item in view.record]))
    sections += [also_section(s, view) for s in view.secondary]
    covers = [f"{view.jurisdiction} {view.disclaimer}"]
    sections.append(Section("Covers", [view.law_as_at, *covers] if view.law_as_at else covers))
    return sections


def also_section(view: OutcomeView, primary: OutcomeView) -> Section:
    """A further answer's own details: what it asks of you, why, what to share, the family line,
    and the law and record fields it adds to the main answer's."""
    lines = [action_line(view), *view.because]
    lines += [f"What to share: {view.what_to_share}", f"Telling the family: {view.tell_family}"]
    cited = {g.id for g in primary.gateways}
    law = [f"{g.title} (Source: {g.source})" for g in view.gateways if g.id not in cited]
    if law:
        lines.append("The law, as well: " + "; ".join(law))
    record = [item for item in view.record if item not in primary.record]
    if record:
        lines.append("Record, as well: " + "; ".join(record))
    return Section(f"Also: {view.verdict_label}", lines)
