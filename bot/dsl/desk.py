"""The DSL desk in Slack: escalation cards a DSL claims and resolves, reminders that re-escalate
to the DSL group and then the deputy, and exports on demand.

Cards carry ids, enums and the labels of the answers given: never free text that could identify
a child. Reminders are rows in the database driven by the scheduler, so they survive restarts.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

from bot.channels.slack import blocks
from bot.core.conversations import Turn
from bot.core.engine import OutcomeStep
from bot.core.presentation import answer_label, question_text
from bot.core.privacy import describe, scan
from bot.dsl import export
from bot.dsl.hours import in_working_hours
from bot.flows.loader import FlowBundle
from bot.settings import Settings
from bot.storage import Storage, iso

log = logging.getLogger("canishare.dsl")
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class DslDesk:
    def __init__(self, settings: Settings, storage: Storage, bundle: FlowBundle,
                 clock: Clock = system_clock):
        self.settings, self.storage, self.bundle, self.clock = settings, storage, bundle, clock
        self.tz = ZoneInfo(settings.timezone)

    # --- who is a DSL -------------------------------------------------------------------------
    def is_dsl(self, client: WebClient, user: str) -> bool:
        if user in self.settings.dsl_ids:
            return True
        if not self.settings.dsl_channel:
            return False
        members = client.conversations_members(channel=self.settings.dsl_channel, limit=1000)
        return user in (members.get("members") or [])

    def refuse(self, client: WebClient, user: str, action: str, target: str,
               channel: str | None) -> None:
        self.storage.audit(user, "refused", target, f"{action}: not a DSL")
        text = (f"Only a Designated Safeguarding Lead can {action}. If you need one, use "
                "*Talk to a DSL now* in your check, or contact your DSL directly.")
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)

    # --- raising ------------------------------------------------------------------------------
    def on_outcome(self, client: WebClient, user: str, turn: Turn) -> None:
        """Called when a check reaches an answer: alert the DSLs if the outcome says so."""
        if not isinstance(turn.step, OutcomeStep) or turn.step.outcome.dsl_alert.value == "none":
            return
        outcome = turn.step.outcome
        self.escalate(client, user, turn, kind="outcome", urgency=outcome.dsl_alert.value,
                      dedupe_key=f"outcome:{turn.conversation_id}:{outcome.id}")

    def on_talk_to_dsl(self, body: dict[str, Any], client: WebClient, turn: Turn) -> None:
        user = body["user"]["id"]
        created = self.escalate(client, user, turn, kind="talk_now", urgency="urgent",
                                dedupe_key=f"talk:{turn.conversation_id}:{turn.version}")
        text = (":telephone_receiver: Your DSLs have been asked to contact you now, with your "
                "answers so far." if created else "Your DSLs have already been alerted.")
        client.chat_postEphemeral(channel=body["container"]["channel_id"], user=user,
                                  text=text + " If a child is in immediate danger, call 999.")

    def escalate(self, client: WebClient, user: str, turn: Turn, *, kind: str, urgency: str,
                 dedupe_key: str) -> int | None:
        now = self.clock()
        outcome = turn.step.outcome if isinstance(turn.step, OutcomeStep) else None
        minutes = (self.settings.remind_urgent_minutes if urgency == "urgent"
                   else self.settings.remind_routine_minutes)
        escalation_id = self.storage.create_escalation({
            "created_at": iso(now), "channel": "slack", "requester": user,
            "conversation_id": turn.conversation_id, "dedupe_key": dedupe_key, "kind": kind,
            "urgency": urgency, "flow_id": turn.step.flow,
            "outcome_id": outcome.id if outcome else "", "verdict": outcome.verdict.value if outcome else "",
            "rules": outcome.rules if outcome else [], "gateways": outcome.gateways if outcome else [],
            "answers": turn.state.answers, "case_reference": "", "status": "open",
            "reminders_sent": 0, "next_reminder_at": iso(now + timedelta(minutes=minutes)),
        })
        if escalation_id is None:
            return None
        row = self.storage.escalation(escalation_id)
        assert row is not None
        posted = client.chat_postMessage(channel=self.settings.dsl_channel,
                                         text=self.card_text(row), blocks=self.card(row))
        self.storage.update_escalation(escalation_id, card_channel=posted["channel"],
                                       card_ts=posted["ts"])
        return escalation_id

    def on_recorded(self, client: WebClient, user: str, conversation_id: str,
                    case_reference: str) -> None:
        """The person recorded their decision: show its case reference on their open cards."""
        if not case_reference:
            return
        for row in self.storage.escalations_for("slack", user, conversation_id):
            if row["card_ts"] and not row["case_reference"]:
                self.storage.update_escalation(row["id"], case_reference=case_reference)
                self.refresh(client, row["id"])

    # --- the card -------------------------------------------------------------------------
    def local(self, stamp: str) -> str:
        return datetime.fromisoformat(stamp).astimezone(self.tz).strftime("%a %d %b %H:%M")

    def card_text(self, row: dict[str, Any]) -> str:
        return f"{row['urgency'].title()} safeguarding escalation #{row['id']} from <@{row['requester']}>"

    def card(self, row: dict[str, Any]) -> list[blocks.Block]:
        urgent = row["urgency"] == "urgent"
        icon = ":rotating_light:" if urgent else ":bell:"
        labels = {k.value: v for k, v in self.bundle.manifest.verdict_labels.items()}
        if row["outcome_id"]:
            verdict = labels.get(row["verdict"], row["verdict"])
            what = f"*{verdict}* (outcome {row['outcome_id']}, flow {row['flow_id']})"
        else:
            what = "*Asked to talk to a DSL now* - before reaching an answer"
        answers = [f"• {question_text(self.bundle, key)} — *{self._answer(key, value)}*"
                   for key, value in (row["answers"] or {}).items()]
        card: list[blocks.Block] = [
            {"type": "header",
             "text": blocks.plain(f"{row['urgency'].title()} escalation #{row['id']}", 150)},
            {"type": "section", "fields": [
                blocks.mrkdwn(f"*Urgency*\n{icon} {row['urgency']}"),
                blocks.mrkdwn(f"*Requester*\n<@{row['requester']}>"),
                blocks.mrkdwn(f"*Raised*\n{self.local(row['created_at'])}"),
                blocks.mrkdwn(f"*Case reference*\n{row['case_reference'] or '—'}"),
            ]},
            blocks.section(f"{what}\n*Rules:* {', '.join(row['rules']) or '—'}\n"
                           f"*Gateways:* {', '.join(row['gateways']) or '—'}"),
            *blocks.sections("Answers given", answers or ["(none yet)"]),
        ]
        created = datetime.fromisoformat(row["created_at"])
        if not in_working_hours(created, self.settings):
            card.append(blocks.context(f":crescent_moon: {self.settings.out_of_hours_route}"))
        card.append(blocks.context(self.status_line(row)))
        ref = {"e": row["id"]}
        buttons = []
        if row["status"] == "open":
            buttons.append(blocks.button("Claim", "dsl_claim", ref, style="primary"))
        if row["status"] != "resolved":
            buttons += [blocks.button("Resolved", "dsl_resolve", ref),
                        blocks.button("Need more info", "dsl_more_info", ref)]
        if buttons:
            card.append({"type": "actions", "elements": buttons})
        return card

    def _answer(self, key: str, value: Any) -> str:
        values = value if isinstance(value, list) else [value]
        return ", ".join(answer_label(self.bundle, key, v) for v in values)

    def status_line(self, row: dict[str, Any]) -> str:
        if row["status"] == "resolved":
            return (f":white_check_mark: Resolved by <@{row['resolved_by']}> at "
                    f"{self.local(row['resolved_at'])}: {row['resolution_note']}")
        if row["status"] == "claimed":
            return f":raising_hand: Claimed by <@{row['claimed_by']}> at {self.local(row['claimed_at'])}"
        return ":hourglass: Unclaimed"

    def refresh(self, client: WebClient, escalation_id: int) -> dict[str, Any]:
        row = self.storage.escalation(escalation_id)
        assert row is not None
        client.chat_update(channel=row["card_channel"], ts=row["card_ts"], text=self.card_text(row),
                           blocks=self.card(row))
        return row

    def changed(self, client: WebClient, dsl: str, escalation_id: int, action: str,
                message: str) -> None:
        """After a DSL changes an escalation: audit it, redraw the card, tell the requester."""
        self.storage.audit(dsl, action, f"escalation {escalation_id}")
        row = self.refresh(client, escalation_id)
        client.chat_postMessage(channel=row["requester"], text=message)

    # --- DSL actions ------------------------------------------------------------------------
    def _guarded(self, body: dict[str, Any], client: WebClient, action: str) -> int | None:
        user = body["user"]["id"]
        escalation_id = int(json.loads(body["actions"][0]["value"])["e"])
        if not self.is_dsl(client, user):
            channel = (body.get("container") or {}).get("channel_id")
            self.refuse(client, user, action, f"escalation {escalation_id}", channel)
            return None
        return escalation_id

    def on_claim(self, body: dict[str, Any], client: WebClient) -> None:
        escalation_id = self._guarded(body, client, "claim an escalation")
        if escalation_id is None:
            return
        user = body["user"]["id"]
        if not self.storage.update_escalation(escalation_id, when_status=("open",), status="claimed",
                                              claimed_by=user, claimed_at=iso(self.clock()),
                                              next_reminder_at=None):
            return  # someone else claimed it first, or a double click
        self.changed(client, user, escalation_id, "claim",
                     f":raising_hand: Your escalation #{escalation_id} was claimed by <@{user}>. "
                     "They will be in touch.")

    def on_resolve_open(self, body: dict[str, Any], client: WebClient) -> None:
        escalation_id = self._guarded(body, client, "resolve an escalation")
        if escalation_id is None:
            return
        client.views_open(trigger_id=body["trigger_id"], view={
            "type": "modal", "callback_id": "dsl_resolve_note", "title": blocks.plain("Resolve", 24),
            "submit": blocks.plain("Resolve", 24), "close": blocks.plain("Cancel", 24),
            "private_metadata": json.dumps({"e": escalation_id}),
            "blocks": [
                blocks.context(":lock: A short closing note: no names or other identifying details."),
                {"type": "input", "block_id": "note", "label": blocks.plain("Closing note"),
                 "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                             "max_length": 500}},
            ],
        })

    def ack_resolve(self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = body["user"]["id"]
        escalation_id = int(json.loads(view["private_metadata"])["e"])
        note = (blocks.modal_values(view).get("note") or "").strip()
        if not self.is_dsl(client, user):
            self.storage.audit(user, "refused", f"escalation {escalation_id}", "resolve: not a DSL")
            ack(response_action="errors", errors={"note": "Only a DSL can resolve an escalation."})
            return
        findings = scan(note)
        if findings:
            ack(response_action="errors", errors={
                "note": f"This looks like it holds {describe(findings)}: describe the outcome "
                        "without identifying anyone."})
            return
        if not self.storage.update_escalation(escalation_id, when_status=("open", "claimed"),
                                              status="resolved", resolved_by=user,
                                              resolved_at=iso(self.clock()), resolution_note=note,
                                              next_reminder_at=None):
            ack(response_action="errors", errors={"note": "This escalation is already resolved."})
            return
        ack()
        self.changed(client, user, escalation_id, "resolve",
                     f":white_check_mark: Your escalation #{escalation_id} was resolved by "
                     f"<@{user}>: {note}")

    def on_more_info(self, body: dict[str, Any], client: WebClient) -> None:
        escalation_id = self._guarded(body, client, "ask for more information")
        if escalation_id is None:
            return
        user = body["user"]["id"]
        row = self.storage.escalation(escalation_id)
        assert row is not None
        client.chat_postMessage(channel=row["card_channel"], thread_ts=row["card_ts"],
                                text=f"<@{row['requester']}>, <@{user}> needs more information about "
                                     f"escalation #{escalation_id}. Please reply in this thread "
                                     "(no names or identifying details here) or call them.")
        client.chat_postMessage(channel=row["requester"],
                                text=f":speech_balloon: <@{user}> needs more information about your "
                                     f"escalation #{escalation_id}: please get in touch with them.")
        self.storage.audit(user, "more_info", f"escalation {escalation_id}")

    # --- reminders ------------------------------------------------------------------------
    def send_reminders(self, client: WebClient, now: datetime | None = None) -> int:
        """Re-post unclaimed escalations to the DSL group, then to the deputy. Returns count."""
        now = now or self.clock()
        sent = 0
        for row in self.storage.due_reminders(now):
            minutes = (self.settings.remind_urgent_minutes if row["urgency"] == "urgent"
                       else self.settings.remind_routine_minutes)
            if row["reminders_sent"] == 0:
                mention = self.settings.dsl_group_mention or "<!here>"
                client.chat_postMessage(
                    channel=row["card_channel"], thread_ts=row["card_ts"], reply_broadcast=True,
                    text=f"{mention} Reminder: {row['urgency']} escalation #{row['id']} is still "
                         f"unclaimed after {minutes} minutes.")
                self.storage.update_escalation(row["id"], reminders_sent=1,
                                               next_reminder_at=iso(now + timedelta(minutes=minutes)))
            else:
                deputies = sorted(self.settings.deputy_ids)
                fallback = self.settings.dsl_group_mention or "<!channel>"
                who = " ".join(f"<@{d}>" for d in deputies) or fallback
                client.chat_postMessage(
                    channel=row["card_channel"], thread_ts=row["card_ts"], reply_broadcast=True,
                    text=f"{who} Escalated to the deputy DSL: {row['urgency']} escalation "
                         f"#{row['id']} is still unclaimed.")
                for deputy in deputies:
                    client.chat_postMessage(channel=deputy, text=(
                        f":rotating_light: {row['urgency'].title()} escalation #{row['id']} is "
                        "unclaimed: please claim it in the DSL channel."))
                self.storage.update_escalation(row["id"], reminders_sent=2, next_reminder_at=None)
            self.storage.audit("scheduler", "reminder", f"escalation {row['id']}",
                               f"reminder {row['reminders_sent'] + 1}")
            sent += 1
        return sent

    # --- exports and the log on demand ---------------------------------------------------------
    def export_ack_text(self, command: dict[str, Any]) -> str:
        return "Preparing the export for the DSL channel..."

    def on_export_command(self, command: dict[str, Any], client: WebClient) -> None:
        user = command["user_id"]
        if not self.is_dsl(client, user):
            self.refuse(client, user, "export the decision log", "export", command.get("channel_id"))
            return
        parts = (command.get("text") or "").split()[1:]
        try:
            if parts:
                start = export.parse_day(parts[0], self.settings.timezone)
                end = (export.parse_day(parts[1], self.settings.timezone) if len(parts) > 1
                       else start) + timedelta(days=1)
            else:
                start, end = export.last_full_week(self.clock(), self.settings.timezone)
        except ValueError:
            client.chat_postEphemeral(channel=command.get("channel_id") or user, user=user,
                                      text="Usage: `/canishare export [YYYY-MM-DD] [YYYY-MM-DD]`")
            return
        self.storage.audit(user, "export", "decisions", f"{start.date()} to {end.date()}")
        self.post_export(client, start, end, requested_by=user)

    def post_export(self, client: WebClient, start: datetime, end: datetime,
                    requested_by: str | None = None) -> export.Summary:
        buffer = io.BytesIO()
        summary = export.export(self.storage, start, end, "xlsx", buffer)
        last_day = (end - timedelta(days=1)).date()
        who = f" (requested by <@{requested_by}>)" if requested_by else ""
        client.files_upload_v2(
            channel=self.settings.dsl_channel, content=buffer.getvalue(),
            filename=f"canishare-decisions-{start.date()}-to-{last_day}.xlsx",
            title=f"Decisions {start.date()} to {last_day}",
            initial_comment=summary.text(start, end - timedelta(days=1)) + who,
        )
        return summary

    def on_log_command(self, command: dict[str, Any], client: WebClient) -> str:
        user = command["user_id"]
        if not self.is_dsl(client, user):
            self.storage.audit(user, "refused", "log", "log: not a DSL")
            return "Only a Designated Safeguarding Lead can read the decision log."
        self.storage.audit(user, "log", "decisions", "last 10")
        rows = self.storage.decisions(limit=10, newest_first=True)
        labels = {k.value: v for k, v in self.bundle.manifest.verdict_labels.items()}
        lines = [f"#{r['id']} {r['created_at'][:16].replace('T', ' ')} <@{r['user_id']}> "
                 f"{labels.get(r['verdict'], r['verdict'])} · {r['decision']}" for r in rows]
        return "*Latest decisions*\n" + ("\n".join(lines) or "None yet.")
