"""The answer a worried person reads first, the same in every channel: the verdict, one line that
says who does what by when, the consent line, the DSL line; everything else (why, the exception
that applied, the rules and the law with their sources, what to share, what to record) on
demand. Channels lay these pieces out; they never choose or reword them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.presentation import OutcomeView
from bot.dsl.ports import EscalationNotice

PRACTICE = "PRACTICE: nothing is recorded and no DSL is alerted."


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


@dataclass(frozen=True)
class ShortAnswer:
    verdict: str
    action: str  # who does what, by when
    consent: str
    dsl: str
    also: list[str] = field(default_factory=list)  # secondary actions, one line each
    practice: bool = False
    delivered: bool | None = None  # the escalation's delivery, when one was raised


def action_line(view: OutcomeView) -> str:
    """The one-line action: the outcome's first action when the flows give one (who, what, by
    when), else its headline, which starts with the action."""
    actions = getattr(view, "actions", None) or []
    return action_line_of(actions[0]) if actions else view.headline


def short_answer(view: OutcomeView, escalation: EscalationNotice | None = None, *, practice: bool = False,
                 secondary: list[OutcomeView] | None = None) -> ShortAnswer:
    dsl = view.dsl_alert_label
    delivered = None
    if practice:
        dsl = "Practice: no DSL is alerted."
    elif escalation is not None:
        dsl, delivered = escalation.text(), escalation.delivered
    also = [f"{s.verdict_label}: {action_line(s)}" for s in secondary or []]
    return ShortAnswer(view.verdict_label, action_line(view), view.consent_label, dsl, also, practice,
                       delivered)


def details(view: OutcomeView) -> list[Section]:
    """The rest of the answer, in the order a DSL would check it."""
    sections: list[Section] = []
    why = list(getattr(view, "why", None) or [])
    if view.summary:
        why.insert(0, view.summary)
    if why:
        sections.append(Section("Why", why))
    if view.notes:
        sections.append(Section("Important", view.notes))
    if len(getattr(view, "actions", None) or []) > 1 or view.next_steps:
        later = (getattr(view, "actions", None) or [])[1:]
        steps = [action_line_of(a) for a in later] + view.next_steps
        sections.append(Section("Next steps", [f"{n}. {s}" for n, s in enumerate(steps, 1)]))
    share = [view.what_to_share] + [f"- {c}" for c in view.checklist]
    sections.append(Section("What to share and how", share))
    sections.append(Section("Telling the child or family", [view.tell_family]))
    if view.rules:
        sections.append(Section("Golden rules", [f"{r.title.capitalize()}: {r.text} (Source: {r.source})"
                                                 for r in view.rules]))
    if view.gateways:
        sections.append(Section("The law", [f"{g.title}: {g.text} (Source: {g.source})"
                                            + (f" {g.caveat}" if g.caveat else "") for g in view.gateways]))
    sections.append(Section("Record (golden rule 7)", [f"- {item}" for item in view.record]))
    sections.append(Section("Covers", [f"{view.jurisdiction} {view.disclaimer}"]))
    return sections


def action_line_of(action: object) -> str:
    who, what, when = (getattr(action, k, "") for k in ("who", "what", "by_when"))
    return " ".join(p for p in (f"{who}:" if who else "", what, f"({when})" if when else "") if p)
