"""Block Kit rendering: pure functions from engine steps and outcome views to Slack JSON.

No Web API calls here, so every layout can be tested on its own. Slack's limits are enforced in
one place: button text 75 chars, section text 3000, 50 blocks a message, modal title 24.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.core.engine import QuestionStep
from bot.core.presentation import OutcomeView

Block = dict[str, Any]
SECTION_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75


def _text(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = BUTTON_TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": _text(text, limit), "emoji": True}


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
) -> list[Block]:
    q = step.question
    ref = {"c": conversation_id, "v": version, "n": q.id}
    blocks: list[Block] = []
    if notice:
        blocks.append(context(f":information_source: {notice}"))
    if profile_line:
        blocks.append({
            "type": "section",
            "text": mrkdwn(f"You are answering as: *{profile_line}*"),
            "accessory": button("Change", "profile_change", {"c": conversation_id}),
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


def outcome_blocks(view: OutcomeView, conversation_id: str, version: int) -> list[Block]:
    ref = {"c": conversation_id, "v": version}
    blocks: list[Block] = [
        {"type": "header", "text": plain(view.verdict_label, 150)},
        section(f"*{view.headline}*" + (f"\n{view.summary}" if view.summary else "")),
        {"type": "section", "fields": [mrkdwn(f"*Consent*\n{view.consent_label}"),
                                       mrkdwn(f"*Your DSL*\n{view.dsl_alert_label}")]},
    ]
    if view.notes:
        blocks += sections("Important", [f":warning: {note}" for note in view.notes])
    blocks += sections("What to share and how", [view.what_to_share] +
                       [f"• {item}" for item in view.checklist])
    blocks.append(section(f"*Telling the child or family*\n{view.tell_family}"))
    if view.next_steps:
        blocks += sections("Next steps", [f"{n}. {s}" for n, s in enumerate(view.next_steps, 1)])
    if view.rules:
        blocks += sections("Golden rules", [
            f"• *{r.id} {r.title}*: {r.text}\n    _Source: {r.source}_" for r in view.rules])
    if view.gateways:
        blocks += sections("Legal gateways", [
            f"• *{g.title}*: {g.text}\n    _Source: {g.source}_" + (f" — {g.caveat}" if g.caveat else "")
            for g in view.gateways])
    blocks += sections("Record (golden rule 7)", [f"• {item}" for item in view.record])
    blocks.append(context(f"{view.jurisdiction} {view.disclaimer}"))
    blocks.append({"type": "actions", "elements": [
        button("Record my decision", "record_open", ref, style="primary"),
        button("Talk to a DSL now", "talk_to_dsl", ref),
        button("Start a new check", "restart", ref),
    ]})
    return blocks[:50]


def trail_text(number: int, question: str, answer: str) -> str:
    return f":white_check_mark: *Q{number}* {question} — *{answer}*"


def home_view(recent: list[dict[str, Any]], verdict_labels: dict[str, str]) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "header", "text": plain("canishare: can I share this?", 150)},
        section("A quick, defensible answer to *\"can I share this information?\"* when you are "
                "worried about a child. A few questions about risk, consent, who would receive it "
                "and what kind of information it is; then the verdict, the golden rules and legal "
                "gateways that apply, what to share and how, and what to record."),
        section(":no_entry: *Not a place for names or case notes.* Answer with the buttons; keep "
                "your full record in your organisation's case system. If a child is in immediate "
                "danger, call 999 first."),
        {"type": "actions", "elements": [button("Start a check", "start_check", "home", "primary")]},
        {"type": "divider"},
        section("*Your recent decisions*"),
    ]
    if not recent:
        blocks.append(context("None yet."))
    for row in recent:
        label = verdict_labels.get(row["verdict"], row["verdict"])
        ref = f" · ref {row['case_reference']}" if row.get("case_reference") else ""
        blocks.append(context(f"{row['created_at'][:16].replace('T', ' ')} · *{label}* · "
                              f"{row['decision'].replace('_', ' ')}{ref}"))
    return {"type": "home", "blocks": blocks}


RECORD_FIELDS = [
    ("what", "What information", "In general terms, e.g. 'summary of concerns about neglect'", True),
    ("with_whom", "With whom (role and agency)", "e.g. 'duty social worker, children's social care'", False),
    ("purpose", "Purpose", "e.g. 'child protection referral'", False),
    ("reasons", "Reasons for your decision", "Why you shared or did not", True),
]


def record_modal(conversation_id: str, channel: str, message_ts: str) -> dict[str, Any]:
    decision = {
        "type": "input",
        "block_id": "decision",
        "label": plain("Your decision"),
        "element": {"type": "radio_buttons", "action_id": "value", "options": [
            {"text": plain("Shared"), "value": "shared"},
            {"text": plain("Not shared"), "value": "not_shared"},
            {"text": plain("Deferred"), "value": "deferred"},
        ]},
    }
    blocks: list[Block] = [
        context(":lock: No names, dates of birth, addresses, NHS numbers, phone numbers or emails: "
                "describe roles and information in general terms."),
        decision,
    ]
    for block_id, label, hint, multiline in RECORD_FIELDS:
        blocks.append({
            "type": "input", "block_id": block_id, "label": plain(label), "optional": False,
            "hint": plain(hint, 150),
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                        "max_length": 1000},
        })
    blocks.append({
        "type": "input", "block_id": "case_reference", "optional": True,
        "label": plain("Case reference (optional)"),
        "hint": plain("Your case system's reference, not a name or NHS number", 150),
        "element": {"type": "plain_text_input", "action_id": "value", "max_length": 60},
    })
    meta = {"c": conversation_id, "ch": channel, "ts": message_ts}
    return {
        "type": "modal",
        "callback_id": "record_decision",
        "title": plain("Record decision", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(meta),
        "blocks": blocks,
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


def apology_blocks(correlation_id: str) -> list[Block]:
    return [
        section(":warning: Sorry, something went wrong on our side. Your answers so far are "
                f"saved. (Reference: `{correlation_id}`)"),
        {"type": "actions", "elements": [button("Start again", "start_check", "apology")]},
    ]
