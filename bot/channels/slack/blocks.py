"""Block Kit rendering: pure functions from engine steps and outcome views to Slack JSON.

No Web API calls here, so every layout can be tested on its own. Slack's limits are enforced in
one place: button text 75 chars, section text 3000, 50 blocks a message, modal title 24.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.core.answer import PRACTICE, ShortAnswer, details
from bot.core.engine import QuestionStep
from bot.core.presentation import OutcomeView
from bot.core.record import DECISIONS, NOTE_MAX_LENGTH, RECORD_FIELDS
from bot.dsl.ports import CardView, DslGroup, ExportFile, Message, Person

Block = dict[str, Any]
SECTION_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75


def _text(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = BUTTON_TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": _text(text, limit), "emoji": True}


def literal(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """Text a person typed: shown exactly as typed (no formatting, links, mentions or emoji)."""
    return {"type": "plain_text", "text": _text(text, limit) or " ", "emoji": False}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _text(text)}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


def button(text: str, action_id: str, value: dict[str, Any] | str, style: str | None = None) -> dict:
    element = {
        "type": "button",
        "text": plain(text),
        "action_id": action_id,
        "value": value if isinstance(value, str) else json.dumps(value, separators=(",", ":")),
    }
    if style:
        element["style"] = style
    return element


def sections(title: str, lines: Iterable[str]) -> list[Block]:
    """A titled list split into as many sections as Slack's 3000-char limit needs."""
    blocks, current = [], f"*{title}*"
    for line in lines:
        if len(current) + len(line) + 1 > SECTION_LIMIT:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    blocks.append(section(current))
    return blocks


def question_blocks(
    step: QuestionStep,
    conversation_id: str,
    version: int,
    *,
    can_go_back: bool,
    profile_line: str | None = None,
    show_help: bool = False,
    notice: str | None = None,
    practice: bool = False,
) -> list[Block]:
    q = step.question
    ref = {"c": conversation_id, "v": version, "n": q.id, **({"p": 1} if practice else {})}
    blocks: list[Block] = []
    if practice:
        blocks.append(context(f":mortar_board: *{escape(PRACTICE)}*"))
    if notice:
        blocks.append(context(f":information_source: {notice}"))
    if profile_line:
        blocks.append({
            "type": "section",
            "text": mrkdwn(f"You are answering as: *{profile_line}*"),
            "accessory": button("Change", "profile_change", {"c": conversation_id,
                                                             **({"p": 1} if practice else {})}),
        })
    blocks.append(section(f"*Question {step.number}*\n{q.text}"))
    if show_help and (q.help or any(c.help for c in q.choices)):
        extra = [f"• *{c.label}*: {c.help}" for c in q.choices if c.help]
        blocks.append(context(":grey_question: " + "\n".join(filter(None, [q.help, *extra]))))
    if q.multi:
        blocks.append({
            "type": "actions",
            "block_id": "multi",
            "elements": [{
                "type": "checkboxes",
                "action_id": "multi_pick",
                "options": [{"text": plain(c.label), "value": c.id} for c in q.choices[:10]],
            }],
        })
        blocks.append({"type": "actions", "elements": [
            button("Continue", "multi_continue", ref, style="primary")]})
    else:
        buttons = [button(c.label, f"answer:{c.id}", {**ref, "a": c.id}) for c in q.choices]
        for start in range(0, len(buttons), 25):
            blocks.append({"type": "actions", "elements": buttons[start:start + 25]})
    nav = []
    if q.help or any(c.help for c in q.choices):
        nav.append(button("Why are we asking?", "help", ref))
    if can_go_back:
        nav.append(button("Back", "back", ref))
    nav.append(button("Start again", "restart", ref))
    nav.append(button("Talk to a DSL now", "talk_to_dsl", ref))
    blocks.append({"type": "actions", "elements": nav})
    return blocks


def outcome_blocks(answer: ShortAnswer, view: OutcomeView, conversation_id: str, version: int, *,
                   show_more: bool = False) -> list[Block]:
    """Verdict first and short enough for a phone screen; "Why, and the law" opens the rest."""
    ref = {"c": conversation_id, "v": version, **({"p": 1} if answer.practice else {})}
    dsl_line = escape(answer.dsl)
    if answer.delivered is not None:
        dsl_line = (":white_check_mark: " if answer.delivered else ":warning: ") + dsl_line
    blocks: list[Block] = []
    if answer.practice:
        blocks.append(context(f":mortar_board: *{escape(PRACTICE)}*"))
    blocks += [section(f":rotating_light: *Your own duty:* {escape(duty)}") for duty in answer.duties]
    fields = [mrkdwn(f"*How soon*\n{escape(answer.urgency)}")] if answer.urgency else []
    blocks += [
        {"type": "header", "text": plain(answer.verdict, 150)},
        section(f"*{escape(answer.action)}*"),
        {"type": "section", "fields": [*fields, mrkdwn(f"*Consent*\n{escape(answer.consent)}"),
                                       mrkdwn(f"*Your DSL*\n{dsl_line}")]},
    ]
    if answer.also:
        blocks += sections("Also", [f"• {escape(line)}" for line in answer.also])
    if show_more:
        for part in details(view):
            blocks += sections(part.title, [escape(line) for line in part.lines])
    else:
        blocks.append(context(escape(" ".join(filter(None, (view.law_as_at, view.jurisdiction,
                                                            view.disclaimer))))))
    buttons = [] if answer.practice else [button("Record my decision", "record_open", ref, style="primary")]
    if not show_more:
        buttons.append(button("Why, and the law", "more", ref))
    buttons += [button("Talk to a DSL now", "talk_to_dsl", ref), button("Start a new check", "restart", ref)]
    blocks.append({"type": "actions", "elements": buttons})
    return blocks[:50]


def trail_text(number: int, question: str, answer: str) -> str:
    return f":white_check_mark: *Q{number}* {question} — *{answer}*"


def home_view(recent: list[dict[str, Any]], verdict_labels: list[str], nonce: str) -> dict[str, Any]:
    """App Home: `verdict_labels` are the recent decisions' verdicts in their nation's words."""
    blocks: list[Block] = [
        {"type": "header", "text": plain("canishare: can I share this?", 150)},
        section("A quick, defensible answer to *\"can I share this information?\"* when you are "
                "worried about a child. A few questions about risk, consent, who would receive it "
                "and what kind of information it is; then the verdict, the golden rules and legal "
                "gateways that apply, what to share and how, and what to record."),
        section(":no_entry: *Not a place for names or case notes.* Answer with the buttons; keep "
                "your full record in your organisation's case system. If a child is in immediate "
                "danger, call 999 first."),
        {"type": "actions", "elements": [
            button("Start a check", "start_check", {"h": nonce}, "primary"),
            button("Practice", "start_practice", {"h": nonce})]},
        context("Practice runs the same checks for training: nothing is recorded and no DSL is alerted."),
        {"type": "divider"},
        section("*Your recent decisions*"),
    ]
    if not recent:
        blocks.append(context("None yet."))
    for row, label in zip(recent, verdict_labels, strict=True):
        line = context(f"{row['created_at'][:16].replace('T', ' ')} · *{escape(label)}* · "
                       f"{row['decision'].replace('_', ' ')}")
        if row.get("case_reference"):  # typed by the person: plain text, never formatting or links
            line["elements"].append(literal(f"ref {row['case_reference']}"))
        blocks.append(line)
    return {"type": "home", "blocks": blocks}


def record_modal(private_metadata: str) -> dict[str, Any]:
    """The record form (golden rule 7): the same fields and limits as every channel."""
    decision = {
        "type": "input",
        "block_id": "decision",
        "label": plain("Your decision"),
        "element": {"type": "radio_buttons", "action_id": "value", "options": [
            {"text": plain(label), "value": value} for value, label in DECISIONS]},
    }
    blocks: list[Block] = [
        context(":lock: No names, dates of birth, addresses, NHS numbers, phone numbers or emails: "
                "describe roles and information in general terms."),
        decision,
    ]
    for field in RECORD_FIELDS:
        blocks.append({
            "type": "input", "block_id": field.id, "label": plain(field.label),
            "optional": not field.required, "hint": plain(field.hint, 150),
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": field.multiline,
                        "max_length": field.max_length},
        })
    return {
        "type": "modal",
        "callback_id": "record_decision",
        "title": plain("Record decision", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def resolve_modal(private_metadata: str) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": "dsl_resolve_note", "title": plain("Resolve", 24),
        "submit": plain("Resolve", 24), "close": plain("Cancel", 24),
        "private_metadata": private_metadata,
        "blocks": [
            context(":lock: A short closing note: no names or other identifying details."),
            {"type": "input", "block_id": "note", "label": plain("Closing note"),
             "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                         "max_length": NOTE_MAX_LENGTH}},
        ],
    }


def modal_values(view: dict[str, Any]) -> dict[str, str]:
    """Flatten a submitted modal's state into {block_id: value}."""
    values = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        element = actions.get("value", {})
        selected = element.get("selected_option")
        values[block_id] = (selected or {}).get("value") if "selected_option" in element else (
            element.get("value") or "")
    return values


def apology_text(correlation_id: str) -> str:
    return (f"Sorry, something went wrong on our side (reference {correlation_id}). Your answers "
            "so far are saved. If you are worried about a child, talk to your DSL now; if a child "
            "is in immediate danger, call 999.")


def apology_blocks(correlation_id: str) -> list[Block]:
    return [
        section(":warning: " + escape(apology_text(correlation_id))),
        {"type": "actions", "elements": [button("Start again", "start_check", "apology")]},
    ]


# --- typed text stays text ------------------------------------------------------------------
def escape(text: str) -> str:
    """Slack's three control characters, so typed text never becomes a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def group_element(mention: str) -> dict[str, Any]:
    """The DSL group as a rich-text element: a user group from `<!subteam^ID...>`, else @here."""
    if mention.startswith("<!subteam^"):
        return {"type": "usergroup", "usergroup_id": mention[len("<!subteam^"):].split("|")[0].rstrip(">")}
    if mention in ("<!channel>", "<!everyone>"):
        return {"type": "broadcast", "range": mention.strip("<!>")}
    return {"type": "broadcast", "range": "here"}


def message_block(message: Message, group_mention: str = "") -> Block:
    """A message as a rich-text block: text pieces are literal (no formatting, links or
    mentions can come from them); people and the DSL group are real mentions."""
    elements: list[dict[str, Any]] = []
    for segment in message:
        if isinstance(segment, Person):
            elements.append({"type": "user", "user_id": segment.id})
        elif isinstance(segment, DslGroup):
            elements.append(group_element(group_mention))
        elif segment:
            elements.append({"type": "text", "text": segment})
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def message_text(message: Message, group_mention: str = "") -> str:
    """The notification text of a message (escaped; mentions in Slack's own syntax)."""
    out = []
    for segment in message:
        if isinstance(segment, Person):
            out.append(f"<@{segment.id}>")
        elif isinstance(segment, DslGroup):
            out.append(group_mention or "<!here>")
        else:
            out.append(escape(segment))
    return "".join(out)


# --- the DSL card -------------------------------------------------------------------------------
def card_text(card: CardView) -> str:
    return f"{card.title} from <@{card.requester.id}>"


def card_blocks(card: CardView) -> list[Block]:
    icon = ":rotating_light:" if card.urgent else ":bell:"
    also = "".join(f"\nAlso: {escape(a)}" for a in card.also)
    soon = [mrkdwn(f"*How soon*\n{escape(card.how_soon)}")] if card.how_soon else []
    blocks: list[Block] = [
        section(f"{icon} *{escape(card.title)}* from <@{card.requester.id}>\n*{escape(card.what)}*{also}"),
        *[section(f":rotating_light: *{escape(duty)}*") for duty in card.duties],
        {"type": "section", "fields": [
            *soon,
            mrkdwn(f"*Raised*\n{escape(card.raised_at)}"),
            mrkdwn("*Golden rules*\n" + (escape(", ".join(card.rules)) or "-")),
            mrkdwn("*Legal gateways*\n" + (escape("; ".join(card.gateways)) or "-")),
            literal("Case reference\n" + (card.case_reference or "not yet recorded")),
        ]},
    ]
    if card.answers:
        blocks += sections("Answers given",
                           [f"• {escape(f.label)} — *{escape(f.value)}*" for f in card.answers])
    law = f" {escape(card.law_as_at)}" if card.law_as_at else ""
    blocks.append(context(":lock: No case details here: talk to the requester, and keep the case "
                          "record in your case system." + law))
    if card.out_of_hours:
        blocks.append(context(f":crescent_moon: {escape(card.out_of_hours)}"))
    blocks.append(message_block(card.status))
    ref = {"e": card.escalation_id, "v": card.version}
    buttons = []
    if card.can_claim:
        buttons.append(button("Claim", "dsl_claim", ref, style="primary"))
    if card.can_resolve:
        buttons.append(button("Resolved", "dsl_resolve", ref))
    if card.can_ask:
        buttons.append(button("Need more info", "dsl_more_info", ref))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks[:50]


def export_comment(export: ExportFile) -> str:
    lines = [escape(line) for line in export.summary]
    if lines:
        lines[0] = f"*{lines[0]}*"
    if export.requested_by:
        lines.append(f"(requested by <@{export.requested_by.id}>)")
    if export.checkpoint:
        lines.append(f"Log checkpoint: `{escape(export.checkpoint)}`")
    return "\n".join(lines)
