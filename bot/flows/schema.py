"""The flow file format, as pydantic models with `extra="forbid"`.

Safeguarding leads write these files, so every model forbids unknown keys: a typo such as
`nxt:` is an error that names the file and line, never a silently ignored field.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.flows.conditions import Condition

SNAKE_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


class Verdict(StrEnum):
    emergency_call_999 = "emergency_call_999"
    refer_to_childrens_social_care = "refer_to_childrens_social_care"
    report_to_police = "report_to_police"
    refer_to_lado = "refer_to_lado"
    refer_to_adult_safeguarding = "refer_to_adult_safeguarding"
    share_with_consent = "share_with_consent"
    share_without_consent = "share_without_consent"
    share_summary_only = "share_summary_only"
    do_not_share_yet_seek_advice = "do_not_share_yet_seek_advice"
    do_not_share = "do_not_share"


class ConsentPosition(StrEnum):
    given = "given"
    informed_not_asked = "informed_not_asked"
    not_sought_unsafe = "not_sought_unsafe"
    refused_overridden = "refused_overridden"
    refused_respected = "refused_respected"
    not_needed_not_confidential = "not_needed_not_confidential"
    not_applicable = "not_applicable"


class DslAlert(StrEnum):
    none = "none"
    routine = "routine"
    urgent = "urgent"


class Urgency(StrEnum):
    """How soon (guidance E3 U1-U4): `now` (act immediately), `today` (before the end of today or
    this shift), `next_working_day`, `routine`."""

    now = "now"
    today = "today"
    next_working_day = "next_working_day"
    routine = "routine"


URGENCY_LABELS = {
    Urgency.now: "Act now: don't wait for the end of a lesson, a meeting or a reply",
    Urgency.today: "Today: before the end of today or this shift",
    Urgency.next_working_day: "By the end of the next working day",
    Urgency.routine: "No set deadline: as part of your usual work",
}
URGENCY_ORDER = {Urgency.routine: 0, Urgency.next_working_day: 1, Urgency.today: 2, Urgency.now: 3}


class LawStatus(StrEnum):
    """T2: `coming` is law passed but not commenced: only ever a note until an operator's
    commencement setting names its date (T3, T5)."""

    in_force = "in_force"
    coming = "coming"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dated(Strict):
    """An item that applies only while the law it rests on is in force (guidance C0 T1-T9).

    Dates are ISO (`2026-09-30`) and inclusive; missing means open. `provision` names the
    commencement setting (`commencement.<provision>`) that switches a `coming` item on, or corrects
    the start date of an in-force one whose date is provisional."""

    status: LawStatus = LawStatus.in_force
    in_force_from: date | None = None
    in_force_until: date | None = None
    provision: str | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Dated:
        if self.in_force_from and self.in_force_until and self.in_force_until < self.in_force_from:
            raise ValueError(f"in_force_until {self.in_force_until} is before in_force_from "
                             f"{self.in_force_from}")
        if self.status == LawStatus.coming and not self.provision and not getattr(self, "id", None):
            raise ValueError("a `coming` item needs `provision:` (the commencement setting's id)")
        return self

    @property
    def dated(self) -> bool:
        return bool(self.in_force_from or self.in_force_until or self.provision
                    or self.status != LawStatus.in_force)


def _check_snake(value: str, what: str) -> str:
    if not SNAKE_ID.match(value):
        raise ValueError(f"{what} {value!r} must be snake_case (a-z, 0-9, _)")
    return value


class Target(Strict):
    """Where to go: a node of this flow (or a shared outcome), or another flow."""

    next: str | None = None
    goto_flow: str | None = None
    at: str | None = Field(None, description="Node of goto_flow to start at (default: its start).")

    @model_validator(mode="after")
    def _one_target(self) -> Target:
        if self.next and self.goto_flow:
            raise ValueError("give either `next` or `goto_flow`, not both")
        if self.at and not self.goto_flow:
            raise ValueError("`at` only goes with `goto_flow`")
        return self

    @property
    def is_set(self) -> bool:
        return bool(self.next or self.goto_flow)


class Branch(Target, Dated):
    """A conditional transition: taken when `when` holds over earlier answers and, for a dated
    branch, the law it follows is in force at the decision date (T2: otherwise it is skipped as
    if absent)."""

    when: Condition

    @model_validator(mode="after")
    def _has_target(self) -> Branch:
        if not self.is_set:
            raise ValueError("a branch needs `next` or `goto_flow`")
        return self


class Choice(Target):
    id: str
    label: str = Field(min_length=1, max_length=75)
    help: str | None = None
    exclusive: bool = Field(False, description="In a multi-select, cannot be combined.")
    branches: list[Branch] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _snake(cls, value: str) -> str:
        return _check_snake(value, "answer id")


class Question(Target):
    type: Literal["question"] = "question"
    id: str
    asks: str | None = Field(None, description="Answer key, when two nodes ask one question.")
    text: str = Field(min_length=1)
    help: str | None = None
    multi: bool = False
    choices: list[Choice] = Field(min_length=1)
    branches: list[Branch] = Field(default_factory=list)
    cores: list[str] = Field(
        default_factory=list,
        description="The shared core(s) this node belongs to (guidance C0, INV14b): the only "
        "nodes allowed to route into that core's outcomes.",
    )

    @field_validator("id")
    @classmethod
    def _node_id(cls, value: str) -> str:
        if not NODE_ID.match(value):
            raise ValueError(f"node id {value!r} may hold only letters, digits and _")
        return value

    @field_validator("asks")
    @classmethod
    def _asks_snake(cls, value: str | None) -> str | None:
        return value if value is None else _check_snake(value, "question id")

    @property
    def key(self) -> str:
        """The answer key: stable public question id."""
        return self.asks or self.id

    def choice(self, answer_id: str) -> Choice | None:
        return next((c for c in self.choices if c.id == answer_id), None)

    def targets(self) -> list[Target]:
        """Every place an answer can lead: the question's branches and default, and each
        choice's branches and default (unset defaults included; callers test `next`/`goto_flow`)."""
        return [*self.branches, self, *self.choices, *(b for c in self.choices for b in c.branches)]


class ActionItem(Strict):
    """One step a person takes (guidance W6): who does what, by when."""

    who: str = Field(min_length=1)
    what: str = Field(min_length=1)
    by_when: str = Field(min_length=1)


class Extra(Dated):
    """A conditional addition to an outcome, e.g. the lawful basis that follows org type. A dated
    extra applies only while its law is in force (T2): `uk-gdpr-art6-1ea` from 5 Feb 2026."""

    when: Condition
    set_headline: str | None = None
    add_because: list[str] = Field(default_factory=list)
    add_actions: list[ActionItem] = Field(default_factory=list)
    set_consent_position: ConsentPosition | None = None
    set_dsl_alert: DslAlert | None = None
    add_rules: list[str] = Field(default_factory=list)
    add_gateways: list[str] = Field(default_factory=list)
    remove_gateways: list[str] = Field(default_factory=list)
    add_notes: list[str] = Field(default_factory=list)
    add_next_steps: list[str] = Field(default_factory=list)
    add_record: list[str] = Field(default_factory=list)
    set_tell_family: str | None = None
    set_urgency: Urgency | None = None
    add_personal_duties: list[str] = Field(default_factory=list)
    add_law_notes: list[str] = Field(
        default_factory=list, description="Ids of catalogue notes (gateways.yaml `notes`).")


class Outcome(Strict):
    type: Literal["outcome"] = "outcome"
    id: str
    verdict: Verdict
    consent_position: ConsentPosition
    headline: str = Field(min_length=1)
    summary: str | None = None
    because: str | None = Field(None, description="W2: the condition that led here, in plain words.")
    because_from: list[str] = Field(
        default_factory=list,
        description="Answer keys (`key`, or `key=answer` for one answer) whose per-answer "
        "explanation (conventions `because`) replaces `because` when that answer was given.",
    )
    actions: list[ActionItem] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    gateways: list[str] = Field(default_factory=list)
    what_to_share: str = Field(min_length=1)
    share_checklist: list[str] = Field(default_factory=list)
    tell_family: str = Field(min_length=1)
    record: list[str] = Field(default_factory=list)
    dsl_alert: DslAlert
    urgency: Urgency | None = Field(
        None, description="E3 U4 default; absent: derived from verdict and alert (`default_urgency`).")
    personal_duties: list[str] = Field(
        default_factory=list, description="U5: duties on the person themselves (manifest `personal_duties`).")
    next_steps: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list, description="Named extra sets to apply.")
    extras: list[Extra] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _node_id(cls, value: str) -> str:
        if not NODE_ID.match(value):
            raise ValueError(f"node id {value!r} may hold only letters, digits and _")
        return value


REFERRALS = frozenset({Verdict.report_to_police, Verdict.refer_to_childrens_social_care,
                       Verdict.refer_to_lado, Verdict.refer_to_adult_safeguarding})


def default_urgency(verdict: Verdict, alert: DslAlert) -> Urgency:
    """An outcome's urgency when its YAML gives none (so edition-2 flows still run): 999 is now;
    a referral, a report or an urgent DSL alert is today; everything else routine."""
    if verdict == Verdict.emergency_call_999:
        return Urgency.now
    if verdict in REFERRALS or alert == DslAlert.urgent:
        return Urgency.today
    return Urgency.routine


Node = Annotated[Question | Outcome, Field(discriminator="type")]


class Flow(Strict):
    id: str
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    version: str = Field(min_length=1)
    start: str
    sources: list[str] = Field(default_factory=list)
    nodes: list[Node] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _snake(cls, value: str) -> str:
        return _check_snake(value, "flow id")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


TRACE_HELP = "Reviewer-only provenance (seed file names); never shown to people."


class Rule(Strict):
    id: str
    name: str
    paraphrase: str
    permits: str | None = None
    conditions: str | None = None
    source: str
    trace: list[str] = Field(default_factory=list, description=TRACE_HELP)
    legacy: list[str] = Field(default_factory=list)


class LegacyRule(Strict):
    id: str
    text: str
    maps_to: list[str]
    note: str | None = None
    source: str
    trace: list[str] = Field(default_factory=list, description=TRACE_HELP)


class ChecklistItem(Strict):
    id: str
    text: str
    source: str
    trace: list[str] = Field(default_factory=list, description=TRACE_HELP)


class RecordField(Strict):
    id: str
    label: str
    source: str
    trace: list[str] = Field(default_factory=list, description=TRACE_HELP)


class RulesCatalogue(Strict):
    edition: str
    rules: list[Rule]
    legacy_rules: list[LegacyRule] = Field(default_factory=list)
    checklist: list[ChecklistItem] = Field(default_factory=list)
    record_fields: list[RecordField] = Field(default_factory=list)


class GatewayStatus(StrEnum):
    in_force = "in_force"
    coming = "coming"  # E3 T5: passed, not commenced: a note until `commencement.<id>` is set
    pending = "pending"
    not_a_gateway = "not_a_gateway"
    restriction = "restriction"
    policy = "policy"  # guidance, not a legal gateway (e.g. NI adult safeguarding policy)


class Gateway(Strict):
    id: str
    title: str
    permits: str
    who: str
    conditions: str
    source: str
    status: GatewayStatus = GatewayStatus.in_force
    jurisdictions: list[Literal["england", "wales", "scotland", "northern_ireland"]] = Field(
        default_factory=lambda: ["england", "wales", "scotland", "northern_ireland"]
    )
    verified: bool = Field(True, description="False where the design marks the point [K].")
    requires_one_of: list[str] = Field(
        default_factory=list,
        description="Attached only when one of these gateways is also attached after the nation "
        "filter (G1: legal obligation only with a duty that applies here).",
    )
    in_force_from: date | None = None
    in_force_until: date | None = None
    provision: str | None = Field(None, description="Commencement setting id; default: the gateway id.")
    trace: list[str] = Field(default_factory=list, description=TRACE_HELP)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Gateway:
        if self.in_force_from and self.in_force_until and self.in_force_until < self.in_force_from:
            raise ValueError(f"in_force_until {self.in_force_until} is before in_force_from "
                             f"{self.in_force_from}")
        return self


Nation = Literal["england", "wales", "scotland", "northern_ireland"]


class LawNote(Dated):
    """A note about the law shown under an answer (E3 `notes[]`). `kind: coming` is shown while
    its provision is not yet in force ("Coming: ... (not yet in force; no duty yet)") and drops
    away once commenced, when the duty it announces takes over; `kind: info` is shown while in
    force. A note is never a duty, a gateway or a change of route (T5)."""

    id: str
    kind: Literal["coming", "info"] = "coming"
    title: str = Field(min_length=1)
    text: str = Field(min_length=1)
    source: str = Field(min_length=1)
    jurisdictions: list[Nation] = Field(
        default_factory=lambda: ["england", "wales", "scotland", "northern_ireland"])
    trace: list[str] = Field(default_factory=list, description=TRACE_HELP)


class GatewaysCatalogue(Strict):
    gateways: list[Gateway]
    notes: list[LawNote] = Field(default_factory=list)


class OutcomesCatalogue(Strict):
    """Shared outcomes any flow can reach, and named sets of extras they include."""

    extra_sets: dict[str, list[Extra]] = Field(default_factory=dict)
    always: list[Extra] = Field(default_factory=list, description="Applied to every outcome.")
    outcomes: list[Outcome] = Field(default_factory=list)


class PersonalDuty(Strict):
    """A duty on the person themselves (U5), in plain words: shown first in every channel and
    never replaced by "tell your DSL" (`fgm_s5b`: "You must report this to the police yourself,
    by the end of the next working day")."""

    text: str = Field(min_length=1, max_length=160)
    source: str = Field(min_length=1)


class Citation(Dated):
    """One dated edition of a cited document (T7): `{cite_<key>}` in any text becomes the last
    entry in force at the decision date ("Working Together to Safeguard Children 2026")."""

    text: str = Field(min_length=1)


class RetiredId(Strict):
    """An id a saved check or logged decision may still name (guidance edition changes).

    `key` alone retires a question: its answers move to `now_key` (same answer ids), or, with no
    `now_key`, the question is asked again. `key` + `answer` retires one answer: it becomes
    `now_answer`, or, with none, the question is asked again."""

    key: str
    answer: str | None = None
    now_key: str | None = None
    now_answer: str | None = None
    edition: str
    meaning: str = Field(min_length=1, description="What the old id meant and what replaced it.")


class Manifest(Strict):
    """The bundle's entry flow, edition and the words shown around every answer."""

    entry: str
    jurisdiction_question: str | None = Field(
        None, description="Question whose answer drops gateways that do not apply there."
    )
    profile_questions: list[str] = Field(
        default_factory=list,
        description="Questions whose answers a channel may remember per person and skip.",
    )
    profile_labels: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Profile question -> answer -> how it reads in \"You are answering as: ...\" "
        "(a few words; the answer's label when absent).",
    )
    guidance_edition: str
    disclaimer: str
    jurisdiction_covered: str
    verdict_labels: dict[Verdict, str]
    consent_labels: dict[ConsentPosition, str]
    dsl_alert_labels: dict[DslAlert, str]
    not_sure_advice: str | None = None
    terms: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Nation terms (guidance N1, W4): `{term}` in any text is replaced by the "
        "answer to `jurisdiction_question` (key `default` otherwise); `{Term}` capitalises it.",
    )
    retired: list[RetiredId] = Field(default_factory=list)
    edition: int | None = Field(None, description="Guidance edition number logged with each decision (T6).")
    checks_at: date | None = Field(
        None, description="The date path checks and reviews evaluate the law at when given none "
        "(the channels always use the clock's date).")
    personal_duties: dict[str, PersonalDuty] = Field(default_factory=dict)
    urgency_labels: dict[Urgency, str] = Field(default_factory=lambda: dict(URGENCY_LABELS))
    citations: dict[str, list[Citation]] = Field(
        default_factory=dict, description="`{cite_<key>}` -> dated editions of a cited document.")
    edition_changes: list[str] = Field(
        default_factory=list, description="The reviewer's 'what changed' list, for sign-off."
    )
    to_verify: list[str] = Field(
        default_factory=list, description="[K]/[P] points a reviewer must verify before shipping."
    )


# Verdict precedence, P1 (most protective) first (guidance edition 2, C0).
PRECEDENCE: tuple[Verdict, ...] = (
    Verdict.emergency_call_999, Verdict.report_to_police, Verdict.refer_to_childrens_social_care,
    Verdict.refer_to_lado, Verdict.refer_to_adult_safeguarding, Verdict.share_without_consent,
    Verdict.share_summary_only, Verdict.share_with_consent, Verdict.do_not_share_yet_seek_advice,
    Verdict.do_not_share,
)


class Implication(Strict):
    """Answers that settle another question's answer (C0 'implied by'): that question is then
    skipped, and conditions see the implied answer."""

    when: Condition
    implies: dict[str, str]


class RaiseRule(Strict):
    """An answer that adds an outcome to the run (C0 S1 'added by an answer')."""

    when: Condition
    outcome: str
    consent: Literal["own", "follow_primary"] = "own"


class Handover(Target):
    """Record-then-refer (C0 RR): when a run reaches an outcome and `when` holds, that outcome
    is held as a secondary and the run continues at the target (once per run)."""

    when: Condition


class DontTellFamily(Strict):
    """C0 S3: answers under which nobody is told to inform the family first."""

    when: Condition
    tell_family: str = Field(min_length=1)
    keep_consent: list[ConsentPosition] = Field(
        default_factory=list,
        description="Consent positions a secondary keeps (its own subject's consent).",
    )


class Conventions(Strict):
    """The run-wide rules of guidance C0 (optional file `conventions.yaml`)."""

    precedence: list[Verdict] = Field(default_factory=lambda: list(PRECEDENCE))
    implications: list[Implication] = Field(default_factory=list)
    raises: list[RaiseRule] = Field(default_factory=list)
    record_then_refer: list[Handover] = Field(default_factory=list)
    dont_tell_family: DontTellFamily | None = None
    because: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="W2: key -> answer -> the exception it triggers."
    )
    identity_lines: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="W9: key -> answer -> the GR5 line that fits it."
    )
    identity_default: str | None = None
    notes_by_answer: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="key -> answer -> a note added to every outcome."
    )
    profession_notes: dict[str, list[str]] = Field(
        default_factory=dict, description="W3: profession answer -> notes for that profession only."
    )
    profession_question: str | None = None
    cores: list[str] = Field(default_factory=list)
    route_only: list[str] = Field(
        default_factory=list,
        description="Answer keys that only choose a route (C0): left out when comparing the "
        "answers of two paths (INV14) and never read by a condition.",
    )


class GlossaryTerm(Strict):
    """A term of art and its plain-words meaning (optional file `glossary.yaml`)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    term: str = Field(min_length=2, max_length=60)
    also: list[str] = Field(default_factory=list)
    plain: str = Field(min_length=10, max_length=200)
    source: str = Field(min_length=3)


class Glossary(Strict):
    """Shared by the questions and the outcomes: each term explained where it first appears."""

    terms: list[GlossaryTerm] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Glossary:
        ids: set[str] = set()
        words: set[str] = set()
        for entry in self.terms:
            if entry.id in ids:
                raise ValueError(f"id {entry.id!r} is listed twice")
            ids.add(entry.id)
            for word in (entry.term.lower(), *(a.lower() for a in entry.also)):
                if word in words:
                    raise ValueError(f"{word!r} is listed twice")
                words.add(word)
        return self
