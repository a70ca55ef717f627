"""Adaptive Cards (version 1.5) for Teams: pure functions from engine steps, outcome views and
stored rows to card JSON. No SDK calls here, so every layout is tested on its own.

Rules every card keeps:
- each button that reaches the server is `Action.Execute` with a `verb` (without one Teams never
  sends the click); its data carries what the Slack buttons carry (conversation id `c`, version
  `v`, node `n`, answer `a`; escalation `e`) plus `action` = the verb, so the SDK's
  `on_card_action_execute("verb")` routing works too. Forms are dialogs, opened by
  `Action.Submit` with `msteams: {type: task/fetch}`, and submitted from the dialog with
  `Action.Submit` (that is how Teams sends `task/submit`).
- every text that came from a person or a flow file is escaped: TextBlocks render a markdown
  subset, so a typed `**` or `[link](...)` must show as typed.
- channel cards (escalations, weekly summary) carry no case details: channel posts appear in
  notification previews and are kept by the tenant's retention and eDiscovery.
- every card stays under 80 KB (Teams' limit is about 100 KB a message).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.answer import PRACTICE, ShortAnswer, details
from bot.core.engine import QuestionStep
from bot.core.presentation import OutcomeView
from bot.core.record import DECISIONS as CORE_DECISIONS
from bot.core.record import NOTE_MAX_LENGTH, RECORD_FIELDS
from bot.dsl.ports import CardView, DslGroup, ExportFile, Message, Person

Card = dict[str, Any]
Element = dict[str, Any]
VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_CARD_BYTES = 80_000
TEXT_LIMIT = 3000  # one TextBlock; longer text is cut with an ellipsis
TITLE_LIMIT = 75  # button titles (the flow schema caps choice labels at 75 too)
BUTTONS_PER_ROW = 5
LONG_LABEL = 30  # longer labels get a row each, so Teams does not cut them off


class Verb:
    """Every `Action.Execute` verb and dialog id the Teams channel sends, in one place."""

    ANSWER = "answer"
    MULTI_CONTINUE = "multi_continue"
    BACK = "back"
    RESTART = "restart"
    TALK_TO_DSL = "talk_to_dsl"
    PROFILE_CHANGE = "profile_change"
    START_CHECK = "start_check"
    RECORD_OPEN = "record_open"  # dialog id of the record dialog (task/fetch)
    RECORD_SUBMIT = "record_submit"  # task/submit from the record dialog
    DSL_CLAIM = "dsl_claim"
    DSL_RESOLVE_OPEN = "dsl_resolve"  # dialog id of the resolve dialog (task/fetch)
    DSL_RESOLVE_SUBMIT = "dsl_resolve_submit"
    DSL_MORE_INFO = "dsl_more_info"
    DSL_DETAILS = "dsl_details"


MULTI_INPUT_ID = "answer"  # the Input.ChoiceSet id; its value arrives comma-separated

# --- text ------------------------------------------------------------------------------------
_INLINE = re.compile(r"([\\`*_~\[\]()<>{}|!#])")
_LINE_START = re.compile(r"^(\s*)([-+]|\d+)([.)]?)(?=\s|$)", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(text: str, limit: int = TEXT_LIMIT) -> str:
    """Show `text` exactly as typed in a TextBlock: backslash-escape the markdown Teams renders
    (emphasis, links, code, lists, headings, html-ish tags) and drop control characters."""
    text = _CONTROL.sub("", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _INLINE.sub(r"\\\1", text)
    return _LINE_START.sub(_line_start, text)


def _line_start(match: re.Match[str]) -> str:
    """`- item` -> `\\- item`; `1. first` -> `1\\. first` (CommonMark escapes the punctuation)."""
    indent, lead, dot = match.groups()
    if lead.isdigit():
        return f"{indent}{lead}\\{dot}" if dot else match.group(0)
    return f"{indent}\\{lead}{dot}"


def _cut(text: str, limit: int) -> str:
    text = _CONTROL.sub("", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_block(text: str, *, markdown: str = "", **style: Any) -> Element:
    """A wrapping TextBlock. `text` is escaped; `markdown` (ours, never a person's) goes first."""
    return {"type": "TextBlock", "text": markdown + escape(text), "wrap": True, **style}


def heading(text: str, size: str = "Medium") -> Element:
    return text_block(text, weight="Bolder", size=size, style="heading")


def bullets(items: Iterable[str], numbered: bool = False) -> list[Element]:
    """One TextBlock per item (a list in one block would need markdown we cannot trust)."""
    return [text_block(item, markdown=f"{n}\\. " if numbered else "• ", spacing="Small")
            for n, item in enumerate(items, 1)]


def facts(pairs: Iterable[tuple[str, str]]) -> Element:
    """A FactSet: titles are ours, values are escaped (FactSet values render markdown too)."""
    return {"type": "FactSet", "facts": [{"title": escape(t, 100), "value": escape(v, 500)}
                                         for t, v in pairs]}


# --- actions ---------------------------------------------------------------------------------
def execute(title: str, verb: str, data: Mapping[str, Any] | None = None, *,
            style: str | None = None, tooltip: str | None = None) -> Element:
    action: Element = {"type": "Action.Execute", "title": _cut(title, TITLE_LIMIT), "verb": verb,
                       "data": {**(data or {}), "action": verb}}
    if style:
        action["style"] = style
    if tooltip:
        action["tooltip"] = _cut(tooltip, 200)
    return action


def open_dialog(title: str, dialog_id: str, data: Mapping[str, Any], *,
                style: str | None = None) -> Element:
    """A button that opens a dialog (task module): Teams sends `task/fetch` with this data."""
    action: Element = {"type": "Action.Submit", "title": _cut(title, TITLE_LIMIT),
                       "data": {**data, "dialog_id": dialog_id, "msteams": {"type": "task/fetch"}}}
    if style:
        action["style"] = style
    return action


def toggle(title: str, *targets: str) -> Element:
    """Show or hide parts of the card in the client: no server call, so no verb."""
    return {"type": "Action.ToggleVisibility", "title": _cut(title, TITLE_LIMIT),
            "targetElements": list(targets)}


def action_rows(actions: Sequence[Element]) -> list[Element]:
    """ActionSets of up to five buttons; a row each when a title is long enough to be cut off."""
    if any(len(a["title"]) > LONG_LABEL for a in actions):
        return [{"type": "ActionSet", "actions": [a]} for a in actions]
    return [{"type": "ActionSet", "actions": list(actions[i:i + BUTTONS_PER_ROW])}
            for i in range(0, len(actions), BUTTONS_PER_ROW)]


def card(body: list[Element], actions: list[Element] | None = None,
         entities: list[dict[str, Any]] | None = None) -> Card:
    built: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body,
                   "msteams": {"width": "Full"}}
    if actions:
        built["actions"] = actions
    if entities:
        built["msteams"]["entities"] = entities
    return built


def size(built: Card) -> int:
    """Bytes of the card as Teams receives it."""
    return len(json.dumps(built, separators=(",", ":"), ensure_ascii=False).encode())


def _notice(text: str | None) -> list[Element]:
    return [text_block(text, markdown="ℹ️ ", isSubtle=True)] if text else []


@dataclass(frozen=True)
class Alert:
    """What "Talk to a DSL now" or an alerting answer did, shown on the person's card: "alerted"
    only when the desk says the DSLs were reached (`ok`), otherwise the truth and the route."""

    ok: bool
    text: str


def _alert(alert: Alert | None) -> list[Element]:
    if alert is None:
        return []
    return [{"type": "Container", "style": "good" if alert.ok else "warning", "items": [
        text_block(alert.text, markdown="✅ " if alert.ok else "⚠️ ", weight="Bolder")]}]


# --- a question ------------------------------------------------------------------------------
ANSWERS_ID = "answers"


def _answers_so_far(answers: Sequence[tuple[str, str]]) -> list[Element]:
    """The answers given, hidden until asked for (Slack shows them as a thread; a personal chat
    in Teams has no threads)."""
    if not answers:
        return []
    return [{"type": "Container", "id": ANSWERS_ID, "isVisible": False, "separator": True, "items": [
        text_block("Your answers so far", weight="Bolder"),
        *[text_block(f"{question} — {answer}", spacing="Small") for question, answer in answers]]}]


def question_card(step: QuestionStep, conversation_id: str, version: int, *, can_go_back: bool,
                  profile_line: str | None = None, notice: str | None = None,
                  error: str | None = None, alert: Alert | None = None,
                  answers: Sequence[tuple[str, str]] = ()) -> Card:
    """One question of a check. `profile_line` ("England, NHS") shows the remembered profile
    with a (change) link; `error` explains a refused answer (e.g. an exclusive option combined);
    `answers` are (question, answer) pairs already given, behind "Your answers"."""
    q = step.question
    ref = {"c": conversation_id, "v": version, "n": q.id}
    body: list[Element] = _notice(notice) + _alert(alert)
    if profile_line:
        body.append({"type": "ColumnSet", "columns": [
            {"type": "Column", "width": "auto", "items": [
                text_block(profile_line, markdown="You are answering as: ")]},
            {"type": "Column", "width": "auto", "items": [
                text_block("(change)", color="Accent")],
             "selectAction": execute("Change", Verb.PROFILE_CHANGE, {"c": conversation_id, "v": version},
                                     tooltip="Answer the profile questions again")},
        ]})
    body.append(text_block(f"Question {step.number}", isSubtle=True, spacing="Medium"))
    body.append(text_block(q.text, weight="Bolder", size="Medium", spacing="Small"))
    help_lines = [h for h in [q.help] if h] + [f"{c.label}: {c.help}" for c in q.choices if c.help]
    if help_lines:
        body.append({"type": "Container", "id": "help", "isVisible": False, "style": "emphasis",
                     "items": [text_block(line, spacing="Small") for line in help_lines]})
    if error:
        body.append(text_block(error, markdown="⚠️ ", color="Attention"))
    if q.multi:
        body.append({
            "type": "Input.ChoiceSet", "id": MULTI_INPUT_ID, "isMultiSelect": True,
            "style": "expanded", "wrap": True, "isRequired": True,
            "errorMessage": "Choose at least one option.",
            "choices": [{"title": _cut(c.label, TITLE_LIMIT), "value": c.id} for c in q.choices],
        })
        exclusive = [c.label for c in q.choices if c.exclusive]
        if exclusive:
            body.append(text_block(f"“{'”, “'.join(exclusive)}” cannot be combined with other "
                                   "options.", isSubtle=True, spacing="Small"))
        body += action_rows([execute("Continue", Verb.MULTI_CONTINUE, ref, style="positive")])
    else:
        body += action_rows([execute(c.label, Verb.ANSWER, {**ref, "a": c.id}) for c in q.choices])
    body += _answers_so_far(answers)
    nav: list[Element] = []
    if help_lines:
        nav.append(toggle("Why are we asking?", "help"))
    if answers:
        nav.append(toggle("Your answers", ANSWERS_ID))
    if can_go_back:
        nav.append(execute("Back", Verb.BACK, ref))
    nav.append(execute("Start again", Verb.RESTART, ref))
    nav.append(execute("Talk to a DSL now", Verb.TALK_TO_DSL, ref,
                       tooltip="Alert your Designated Safeguarding Leads with your answers so far"))
    body.append({"type": "ActionSet", "actions": nav, "spacing": "Large", "separator": True})
    return card(body)


def multi_values(raw: str | Sequence[str] | None) -> list[str]:
    """The ticked options of a multi-select, from Teams' comma-separated string."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [item.strip() for item in items if item.strip()]


# --- the outcome -----------------------------------------------------------------------------
DETAILS_ID = "details"


def _outcome_details(view: OutcomeView) -> list[Element]:
    """The rest of the answer, in the core's order and words (`bot.core.answer.details`); the
    "Covers" line stays visible under the card instead."""
    items: list[Element] = []
    for section in details(view):
        if section.title == "Covers":
            continue
        items.append(heading(section.title, "Default"))
        items += [text_block(line, spacing="Small") for line in section.lines]
    return items


def outcome_card(answer: ShortAnswer, view: OutcomeView, conversation_id: str, version: int, *,
                 notice: str | None = None, answers: Sequence[tuple[str, str]] = ()) -> Card:
    """The answer, short first (`bot.core.answer.short_answer`): the verdict, who does what by
    when, consent, the DSL line (with the truth about an escalation's delivery); the reasons, the
    law and what to record behind "Why, and the law". The disclaimer stays visible."""
    ref = {"c": conversation_id, "v": version}
    body: list[Element] = _notice(notice)
    if answer.practice:
        body.append(text_block(PRACTICE, markdown="🎓 ", weight="Bolder"))
    body += [text_block(f"Your own duty: {duty}", weight="Bolder", color="Attention")
             for duty in answer.duties]
    soon = [("How soon", answer.urgency)] if answer.urgency else []
    body += [text_block(answer.verdict, weight="Bolder", size="ExtraLarge", style="heading"),
             text_block(answer.action, weight="Bolder", spacing="Small"),
             facts(soon + [("Consent", answer.consent)] + ([("Your DSL", answer.dsl)]
                                                           if answer.delivered is None else []))]
    if answer.delivered is not None:  # an escalation was raised: what happened, truthfully
        body += _alert(Alert(answer.delivered, answer.dsl))
    if answer.also:
        body += [heading("Also", "Default"), *bullets(answer.also)]
    details_box = {"type": "Container", "id": DETAILS_ID, "isVisible": False, "separator": True,
                   "items": _outcome_details(view)}
    footer = text_block(" ".join(filter(None, (view.law_as_at, view.jurisdiction, view.disclaimer))),
                        isSubtle=True, size="Small", separator=True)
    actions = [toggle("Why, and the law", DETAILS_ID, *([ANSWERS_ID] if answers else []))]
    if not answer.practice:
        actions.append(open_dialog("Record my decision", Verb.RECORD_OPEN, ref, style="positive"))
    actions += [execute("Talk to a DSL now", Verb.TALK_TO_DSL, ref),
                execute("Start a new check", Verb.RESTART, ref)]
    built = card(body + [details_box, *_answers_so_far(answers), footer], actions)
    if size(built) > MAX_CARD_BYTES:  # only a flow file with pages of text could get here
        details_box["items"] = [text_block("The full guidance for this answer is too long to show "
                                           "here: ask your DSL, or run the check in the terminal chat.")]
    return built


# --- the record dialog -----------------------------------------------------------------------
# Fields, labels, hints, limits and which are required come from the core's one record form.
DECISIONS = list(CORE_DECISIONS)
FORM_ERROR = "_form"


def record_dialog_card(conversation_id: str, version: int, *,
                       values: Mapping[str, str] | None = None,
                       errors: Mapping[str, str] | None = None) -> Card:
    """The "Record my decision" dialog. Shown again with `values` and `errors` (field name ->
    message; `_form` for the whole form) when a submission is refused, so nothing typed is lost."""
    values, errors = values or {}, errors or {}
    body: list[Element] = [
        text_block("No names, dates of birth, addresses, NHS numbers, phone numbers or emails: "
                   "describe roles and information in general terms.", markdown="🔒 "),
    ]
    if errors:
        body.append({"type": "Container", "style": "attention", "items": [
            text_block(errors.get(FORM_ERROR) or "Please check the highlighted answers.",
                       weight="Bolder", color="Attention")]})
    body.append({"type": "Input.ChoiceSet", "id": "decision", "label": "Your decision",
                 "style": "expanded", "isRequired": True, "errorMessage": "Choose your decision.",
                 "value": values.get("decision", ""),
                 "choices": [{"title": title, "value": value} for value, title in DECISIONS]})
    if errors.get("decision"):
        body.append(text_block(errors["decision"], color="Attention", spacing="None"))
    for spec in RECORD_FIELDS:
        name = spec.id
        field: Element = {"type": "Input.Text", "id": name, "label": spec.label, "placeholder": spec.hint,
                          "isMultiline": spec.multiline, "maxLength": spec.max_length,
                          "isRequired": spec.required, "value": _cut(values.get(name, ""), spec.max_length)}
        if spec.required:
            field["errorMessage"] = f"{spec.label} is needed for the record."
        body.append(field)
        if errors.get(name):
            body.append(text_block(errors[name], color="Attention", spacing="None"))
    submit = {"type": "Action.Submit", "title": "Save",
              "data": {"action": Verb.RECORD_SUBMIT, "c": conversation_id, "v": version}}
    return card(body, [submit])


def replace_card(card_json: Card) -> dict[str, Any]:
    """An `adaptiveCard/action` answer that replaces the clicked card (for the clicker only; a
    shared card is updated for everyone with PUT .../activities/{id})."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card_json}


def dialog(card_json: Card, title: str, height: str = "large") -> dict[str, Any]:
    """A `task/fetch` or `task/submit` answer that shows `card_json` in the dialog."""
    return {"task": {"type": "continue", "value": {
        "title": title, "height": height, "width": "medium",
        "card": {"contentType": "application/vnd.microsoft.card.adaptive", "content": card_json}}}}


def dialog_closed(message: str) -> dict[str, Any]:
    """A `task/submit` answer that closes the dialog with a short message."""
    return {"task": {"type": "message", "value": message}}


# --- welcome, apology ------------------------------------------------------------------------
def welcome_card() -> Card:
    """Sent when the app is installed for someone, and on `help`."""
    body = [
        heading("canishare: can I share this?", "Large"),
        text_block("A quick, defensible answer to “can I share this information?” when you are "
                   "worried about a child. A few questions about risk, consent, who would "
                   "receive it and what kind of information it is; then the verdict, the golden "
                   "rules and legal gateways that apply, what to share and how, and what to record."),
        {"type": "Container", "style": "attention", "items": [text_block(
            "Not a place for names or case notes. Answer with the buttons; keep your full record "
            "in your organisation's case system. If a child is in immediate danger, call 999 first.",
            weight="Bolder")]},
        text_block("Type anything to start a check or carry on your last one; restart for a fresh "
                   "one; log for your recent decisions; help to see this again.", isSubtle=True),
    ]
    return card(body, [execute("Start a check", Verb.START_CHECK, {"c": ""}, style="positive")])


def apology_card(correlation_id: str) -> Card:
    """Any internal error: a short apology, a reference, a way on."""
    body = [text_block("Sorry, something went wrong on our side. Your answers so far are saved.",
                       markdown="⚠️ "),
            text_block(f"Reference: {correlation_id}", isSubtle=True),
            text_block("If you are worried about a child now, talk to your DSL; if a child is in "
                       "immediate danger, call 999.")]
    return card(body, [execute("Start again", Verb.START_CHECK, {"c": ""})])


# --- mentions and messages ----------------------------------------------------------------------
_MENTION_UNSAFE = re.compile(r"[<>\\*_\[\]`~]")
MAX_GROUP_MENTIONS = 20  # the DSL group is its people, mentioned one by one (tag mentions need Graph)
Names = Mapping[str, str]  # Entra object id -> display name


def mention(user_id: str, name: str) -> tuple[str, dict[str, Any]]:
    """Text and `msteams.entities` entry for an @mention of a person (by Entra object id)."""
    shown = _MENTION_UNSAFE.sub("", _cut(name, 80)).strip() or "a colleague"
    text = f"<at>{shown}</at>"
    return text, {"type": "mention", "text": text, "mentioned": {"id": user_id, "name": shown}}


class Mentions:
    """Builds TextBlock text from a `Message`: text pieces escaped, people as real mentions (one
    entity each), the DSL group as its members. Unknown people are mentioned as "a colleague"."""

    def __init__(self, names: Names, group: Sequence[str] = ()):
        self.names, self.group = names, list(group)[:MAX_GROUP_MENTIONS]
        self.entities: list[dict[str, Any]] = []

    def person(self, user_id: str) -> str:
        if not user_id:
            return "—"
        text, entity = mention(user_id, self.names.get(user_id, "a colleague"))
        if entity not in self.entities:
            self.entities.append(entity)
        return text

    def text(self, message: Message) -> str:
        out = []
        for segment in message:
            if isinstance(segment, Person):
                out.append(self.person(segment.id))
            elif isinstance(segment, DslGroup):
                out.append(", ".join(self.person(p) for p in self.group) or "DSLs")
            else:
                out.append(escape(segment))
        return "".join(out)


def plain_text(message: Message, names: Names, limit: int = 150) -> str:
    """A message as plain words, for a notification preview (names, never markup)."""
    out = []
    for segment in message:
        if isinstance(segment, Person):
            out.append(names.get(segment.id, "a colleague"))
        elif isinstance(segment, DslGroup):
            out.append("DSLs")
        else:
            out.append(segment)
    return _cut(" ".join("".join(out).split()), limit)


def message_card(message: Message, names: Names, group: Sequence[str] = ()) -> Card:
    """A thread reply or a direct message: one TextBlock with its mentions."""
    mentions = Mentions(names, group)
    body = [{"type": "TextBlock", "wrap": True, "text": mentions.text(message)}]
    return card(body, entities=mentions.entities)


def text_card(text: str, *, title: str | None = None) -> Card:
    """Plain words from canishare (a command's answer, a confirmation), escaped."""
    body = ([heading(title, "Default")] if title else []) + [
        text_block(line) for line in text.split("\n") if line.strip()]
    return card(body)


# --- the DSL channel -------------------------------------------------------------------------
def escalation_summary(view: CardView) -> str:
    """The notification preview of the channel post: no case details."""
    return view.title


def escalation_card(view: CardView, names: Names) -> Card:
    """The card in the DSL channel: who asked, how urgent, when, the verdict and where it stands,
    never the answers (channel posts show in previews and are kept by retention). A DSL sees the
    answers, rules and gateways with "Show details", in a dialog only they see."""
    mentions = Mentions(names)
    body: list[Element] = [
        text_block(view.title, weight="Bolder", size="Large", style="heading",
                   color="Attention" if view.urgent else "Default"),
        # Mentions render in TextBlocks, so the people lines are TextBlocks, not facts.
        {"type": "TextBlock", "wrap": True, "text": f"From {mentions.person(view.requester.id)}"},
        text_block(view.what, weight="Bolder", spacing="Small"),
        *[text_block(also, markdown="Also: ", spacing="None") for also in view.also],
        *[text_block(duty, weight="Bolder", color="Attention") for duty in view.duties],
        facts(([("How soon", view.how_soon)] if view.how_soon else [])
              + [("Raised", view.raised_at), ("Case reference", view.case_reference or "not yet recorded")]
              + ([("Law applied", view.law_as_at)] if view.law_as_at else [])),
        {"type": "TextBlock", "wrap": True, "weight": "Bolder", "text": mentions.text(view.status)},
        text_block("No case details here: talk to the requester, and keep the case record in your "
                   "case system.", markdown="🔒 ", isSubtle=True, size="Small"),
    ]
    if view.out_of_hours:
        body.append(text_block(view.out_of_hours, markdown="🌙 ", isSubtle=True))
    ref = {"e": view.escalation_id, "v": view.version}
    actions = []
    if view.can_claim:
        actions.append(execute("Claim", Verb.DSL_CLAIM, ref, style="positive"))
    actions.append(open_dialog("Show details", Verb.DSL_DETAILS, ref))
    if view.can_resolve:
        actions.append(open_dialog("Resolved", Verb.DSL_RESOLVE_OPEN, ref))
    if view.can_ask:
        actions.append(execute("Need more info", Verb.DSL_MORE_INFO, ref))
    return card(body, actions, mentions.entities)


def escalation_details_card(view: CardView, names: Names) -> Card:
    """Shown in a dialog to the DSL who pressed "Show details", never posted: the answers given,
    the golden rules and legal gateways of the verdict."""
    mentions = Mentions(names)
    body: list[Element] = [
        text_block(view.title, weight="Bolder", size="Medium", style="heading"),
        {"type": "TextBlock", "wrap": True, "text": f"From {mentions.person(view.requester.id)}"},
        text_block(view.what, weight="Bolder"),
        heading("Answers given", "Default"),
        *([text_block(f"{fact.label} — {fact.value}", spacing="Small") for fact in view.answers]
          or [text_block("(none yet)", isSubtle=True)]),
    ]
    if view.rules:
        body += [heading("Golden rules", "Default"), *bullets(view.rules)]
    if view.gateways:
        body += [heading("Legal gateways", "Default"), *bullets(view.gateways)]
    body.append(text_block("Only you can see these details. They are not posted in the channel.",
                           isSubtle=True, size="Small", separator=True))
    return card(body, entities=mentions.entities)


def resolve_dialog_card(escalation_id: int, *, note: str = "", error: str | None = None,
                        limit: int = NOTE_MAX_LENGTH) -> Card:
    """The dialog behind "Resolved": a short closing note, refused with `error` if it holds an
    identifier or the escalation changed meanwhile."""
    body: list[Element] = [text_block("A short closing note: no names or other identifying details.",
                                      markdown="🔒 ")]
    if error:
        body.append(text_block(error, color="Attention", weight="Bolder"))
    body.append({"type": "Input.Text", "id": "note", "label": "Closing note", "isMultiline": True,
                 "maxLength": limit, "isRequired": True, "errorMessage": "Write a short closing note.",
                 "value": _cut(note, limit)})
    return card(body, [{"type": "Action.Submit", "title": "Resolve",
                        "data": {"action": Verb.DSL_RESOLVE_SUBMIT, "e": int(escalation_id)}}])


def export_summary_card(export: ExportFile, names: Names, delivery_note: str = "") -> Card:
    """The export's figures for the DSL channel: counts only, in words (the desk's summary lines).
    `delivery_note` says where the file went."""
    lines = list(export.summary) or [export.title]
    mentions = Mentions(names)
    body: list[Element] = [heading(lines[0], "Large"),
                           *[text_block(line, spacing="Small") for line in lines[1:]]]
    if export.requested_by:
        body.append({"type": "TextBlock", "wrap": True, "isSubtle": True,
                     "text": f"Requested by {mentions.person(export.requested_by.id)}"})
    if export.checkpoint:
        body.append(text_block(f"Log checkpoint: {export.checkpoint}", isSubtle=True, size="Small"))
    if delivery_note:
        body.append(text_block(delivery_note, isSubtle=True, separator=True))
    return card(body, entities=mentions.entities)
