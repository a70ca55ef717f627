"""The DSL desk, for every channel: raising escalations, claim, resolve, need more info,
reminders, the deputy step, and exports. The rules, permissions, audit and compare-and-set live
here; channels only translate a click into a call and a `CardView` into their own card.

Every change is written with the outbox rows that announce it, in one transaction, and then
delivered at once; what could not be delivered is retried by the scheduler. The person who
raised an escalation is told "alerted" only after a delivery succeeded.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.clock import Clock, iso
from bot.core.engine import OutcomeStep
from bot.core.presentation import answer_label, decision_label, question_text, verdict_label
from bot.core.privacy import describe, scan
from bot.core.record import RecordErrors, parse_note
from bot.dsl import export
from bot.dsl.hours import in_working_hours
from bot.dsl.model import CardState, Delivery, DeliveryKind, Escalation, Kind, Status, Urgency
from bot.dsl.outbox import TOLD_NOT_REACHED, Deliverer, RetryPolicy
from bot.dsl.ports import (
    CardView,
    DeskPolicy,
    DeskResult,
    DslDirectory,
    DslNotifier,
    EscalationNotice,
    ExportFile,
    Fact,
    Message,
    Person,
    encode_message,
)
from bot.dsl.reminders import minutes_for, next_step
from bot.flows.law import law_as_at_line
from bot.flows.loader import FlowBundle
from bot.flows.schema import Urgency as SchemaUrgency
from bot.storage import Storage, Tx

log = logging.getLogger("canishare.dsl")
ALERT_RANK = {"none": 0, "routine": 1, "urgent": 2}


@dataclass(frozen=True)
class Raised:
    escalation_id: int
    delivery_id: int | None  # None: it already existed (a repeat), its card is on its way
    also: tuple[int | None, ...] = ()  # more to deliver now (the note saying why a card changed)


class DslDesk:
    def __init__(self, storage: Storage, clock: Clock, bundle: FlowBundle, policy: DeskPolicy,
                 notifiers: Mapping[str, DslNotifier], directories: Mapping[str, DslDirectory],
                 retry: RetryPolicy | None = None):
        self.storage, self.clock, self.bundle, self.policy = storage, clock, bundle, policy
        self.directories = dict(directories)
        self.tz = ZoneInfo(policy.timezone)
        self.outbox = Deliverer(
            storage, clock, notifiers, directories, card_view=self.card_view,
            fallback_message=self.fallback_message, exporter=self.build_export,
            policy=retry or RetryPolicy(fallback_attempts=policy.fallback_attempts,
                                        fallback_minutes=policy.fallback_minutes))

    @property
    def channels(self) -> list[str]:
        return self.outbox.channels

    def serves(self, channel: str) -> bool:
        return channel in self.directories

    # --- raising --------------------------------------------------------------------------
    def raise_for_outcome(self, tx: Tx, channel: str, requester: str, conversation_id: str,
                          step: OutcomeStep, answers: Mapping[str, Any]) -> Raised | None:
        """Inside the transaction that saves the finished check: the escalation and the card's
        outbox row commit with it, or not at all. None: this outcome does not alert a DSL."""
        if not self.serves(channel):
            return None
        outcome, secondary = step.outcome, tuple(getattr(step, "secondary", ()) or ())
        alert = max([outcome.dsl_alert.value, *(s.dsl_alert.value for s in secondary)],
                    key=ALERT_RANK.__getitem__)
        if alert == "none":
            return None
        key = f"outcome:{channel}:{conversation_id}:{outcome.id}"
        earlier = self._open_for(tx, channel, requester, conversation_id)
        if earlier is not None and tx.escalations.by_dedupe_key(key) is None:
            return self._finished_after_alert(tx, earlier, step, answers, Urgency(alert))
        delivery_id = self._raise(tx, channel, requester, conversation_id, Kind.outcome,
                                  Urgency(alert), key, step, answers)
        escalation = tx.escalations.by_dedupe_key(key)
        return Raised(escalation.id, delivery_id) if escalation else None

    @staticmethod
    def _open_for(tx: Tx, channel: str, requester: str, conversation_id: str) -> Escalation | None:
        """The check's escalation still open (one escalation per check: a later alert updates
        it). A resolved one is history: a new alert after it is a new case."""
        for escalation in tx.escalations.for_conversation(channel, requester, conversation_id):
            if escalation.status is not Status.resolved:
                return escalation
        return None

    def _finished_after_alert(self, tx: Tx, earlier: Escalation, step: OutcomeStep,
                              answers: Mapping[str, Any], urgency: Urgency) -> Raised:
        """The check reached its answer after its DSLs were already alerted (Talk to a DSL
        now): the same card gains the verdict (and the higher urgency), and a note under it says
        why it changed, instead of a second card that does not mention the first."""
        outcome, secondary = step.outcome, tuple(getattr(step, "secondary", ()) or ())
        higher = max(earlier.urgency, urgency, key=lambda u: ALERT_RANK[u.value])
        tx.escalations.update(
            earlier.id, outcome_id=outcome.id, verdict=outcome.verdict.value, flow_id=step.flow,
            secondary=[{"outcome_id": s.id, "verdict": s.verdict.value} for s in secondary],
            rules=list(outcome.rules), gateways=list(outcome.gateways), answers=dict(answers),
            urgency=higher)
        changed = tx.escalations.get(earlier.id)
        assert changed is not None
        tx.audit.add(earlier.requester, "escalate", f"escalation {earlier.id}",
                     f"answer reached after the alert: {outcome.id} {higher.value}")
        verdict = verdict_label(self.bundle, outcome.verdict.value, dict(answers))
        update = tx.outbox.enqueue(f"update:{earlier.id}:{changed.version}", earlier.channel,
                                   DeliveryKind.card_update, escalation_id=earlier.id)
        note = tx.outbox.enqueue(
            f"note:{earlier.id}:answer:{changed.version}", earlier.channel, DeliveryKind.note,
            escalation_id=earlier.id, payload={"message": encode_message((
                Person(earlier.requester), f" has now finished the check behind escalation #{earlier.id}: "
                f"the answer is \"{verdict}\". The card shows it. This is the same case, not a new one."))})
        return Raised(earlier.id, update, (note,))

    def talk_now(self, channel: str, requester: str, conversation_id: str, version: int,
                 step: Any, answers: Mapping[str, Any]) -> EscalationNotice | None:
        """"Talk to a DSL now", pressed at any step: urgent, once per check (a press after the
        check's answer alerted the DSLs makes that card urgent and says so under it)."""
        if not self.serves(channel):
            return None
        key = f"talk:{channel}:{conversation_id}:{version}"
        with self.storage.transaction() as tx:
            earlier = self._open_for(tx, channel, requester, conversation_id)
            again = earlier is not None and tx.escalations.by_dedupe_key(key) is None
            ids = self._asked_again(tx, earlier, version) if again and earlier is not None else []
        if again and earlier is not None:
            self.outbox.deliver(ids)
            return self.notice(earlier.id, already=True)
        with self.storage.transaction() as tx:
            existing = tx.escalations.by_dedupe_key(key)
            delivery_id = None if existing else self._raise(
                tx, channel, requester, conversation_id, Kind.talk_now, Urgency.urgent, key,
                step if isinstance(step, OutcomeStep) else None, answers)
            escalation_id = existing.id if existing else tx.escalations.by_dedupe_key(key).id  # type: ignore[union-attr]
        self.outbox.deliver([delivery_id])
        return self.notice(escalation_id, already=existing is not None)

    def _asked_again(self, tx: Tx, earlier: Escalation, version: int) -> list[int | None]:
        """Talk to a DSL now on a check whose DSLs are already alerted: urgent now, and said
        under the card once per step of the check."""
        ids: list[int | None] = []
        if earlier.urgency is not Urgency.urgent:
            tx.escalations.update(earlier.id, urgency=Urgency.urgent)
            changed = tx.escalations.get(earlier.id)
            assert changed is not None
            ids.append(tx.outbox.enqueue(f"update:{earlier.id}:{changed.version}", earlier.channel,
                                         DeliveryKind.card_update, escalation_id=earlier.id))
        ids.append(tx.outbox.enqueue(
            f"note:{earlier.id}:talk:{version}", earlier.channel, DeliveryKind.note,
            escalation_id=earlier.id, payload={"broadcast": True, "message": encode_message((
                Person(earlier.requester), f" asked to talk to a DSL now about escalation #{earlier.id}: "
                "please contact them."))}))
        if ids[-1] is not None:
            tx.audit.add(earlier.requester, "talk_now", f"escalation {earlier.id}", "asked again")
        return ids

    def _raise(self, tx: Tx, channel: str, requester: str, conversation_id: str, kind: Kind,
               urgency: Urgency, key: str, step: OutcomeStep | None,
               answers: Mapping[str, Any]) -> int | None:
        now = self.clock.now()
        outcome = step.outcome if step else None
        secondary = [{"outcome_id": s.id, "verdict": s.verdict.value}
                     for s in (getattr(step, "secondary", ()) or ())] if step else []
        escalation_id = tx.escalations.create(
            key, channel=channel, requester=requester, conversation_id=conversation_id, kind=kind,
            urgency=urgency, flow_id=step.flow if step else "",
            outcome_id=outcome.id if outcome else "", verdict=outcome.verdict.value if outcome else "",
            secondary=secondary, rules=list(outcome.rules) if outcome else [],
            gateways=list(outcome.gateways) if outcome else [], answers=dict(answers),
            **({"how_soon": outcome.urgency.value, "personal_duties": list(outcome.personal_duties),
                "law_as_at": outcome.law_as_at.isoformat()} if outcome else {}),
            next_reminder_at=now + timedelta(minutes=minutes_for(urgency, self.policy)))
        if escalation_id is None:
            return None
        tx.audit.add(requester, "escalate", f"escalation {escalation_id}", f"{kind.value} {urgency.value}")
        return tx.outbox.enqueue(f"card:{escalation_id}", channel, DeliveryKind.card,
                                 escalation_id=escalation_id)

    def deliver_now(self, delivery_ids: list[int | None]) -> None:
        self.outbox.deliver(delivery_ids)

    def deliver_for(self, escalation_ids: list[int]) -> None:
        """Deliver what is still pending for these escalations (after a request that had to
        answer within Slack's three seconds left the delivery for later)."""
        with self.storage.read() as tx:
            ids = [d.id for e in escalation_ids for d in tx.outbox.for_escalation(e)
                   if d.status.value == "pending"]
        self.outbox.deliver(ids)

    def escalations_of(self, channel: str, requester: str, conversation_id: str) -> list[int]:
        with self.storage.read() as tx:
            return [e.id for e in tx.escalations.for_conversation(channel, requester, conversation_id)]

    def deliver_and_tell(self, escalation_id: int, delivery_ids: list[int | None]) -> EscalationNotice:
        """Deliver now, and return the truth for the caller to show the person at once (so the
        outbox need not tell them again: the mark is cleared first, and set again by `notice`
        if the card is still not out)."""
        with self.storage.transaction() as tx:
            tx.housekeeping.forget_job(TOLD_NOT_REACHED, str(escalation_id))
        self.outbox.deliver(delivery_ids)
        return self.notice(escalation_id)

    def notice(self, escalation_id: int, already: bool = False, sending: bool = False) -> EscalationNotice:
        """The truth about an escalation's delivery, for the person who raised it. `sending`:
        the card is being sent right after this is shown (the words say so)."""
        with self.storage.read() as tx:
            escalation = tx.escalations.get(escalation_id)
            fallbacks = [d for d in tx.outbox.for_escalation(escalation_id)
                         if d.kind is DeliveryKind.fallback and d.status.value == "delivered"]
        assert escalation is not None
        delivered = escalation.card_state is CardState.delivered
        by_dm = not delivered and bool(fallbacks)
        if not (delivered or by_dm):
            # the person is about to read "not reached yet": the outbox tells them when it is
            with self.storage.transaction() as tx:
                tx.housekeeping.claim_job(TOLD_NOT_REACHED, str(escalation_id))
        return EscalationNotice(escalation_id, delivered=delivered or by_dm, by_direct_message=by_dm,
                                already=already, route=self.policy.out_of_hours_route,
                                sending=sending and not (delivered or by_dm))

    def outcome_notice(self, channel: str, requester: str, conversation_id: str) -> EscalationNotice | None:
        """The truth about the escalation this check's answer raised, if it raised one."""
        with self.storage.read() as tx:
            ids = [e.id for e in tx.escalations.for_conversation(channel, requester, conversation_id)
                   if e.kind is Kind.outcome or e.outcome_id]  # or a Talk now card the answer joined
        return self.notice(ids[0]) if ids else None

    def notices_for(self, channel: str, requester: str, conversation_id: str) -> list[EscalationNotice]:
        with self.storage.read() as tx:
            ids = [e.id for e in tx.escalations.for_conversation(channel, requester, conversation_id)]
        return [self.notice(i) for i in ids]

    # --- after the person records their decision ------------------------------------------------
    def on_recorded(self, tx: Tx, channel: str, requester: str, conversation_id: str,
                    case_reference: str) -> list[int | None]:
        """Show the case reference on the check's cards (an id from the person's own system)."""
        if not case_reference or not self.serves(channel):
            return []
        ids: list[int | None] = []
        for escalation in tx.escalations.for_conversation(channel, requester, conversation_id):
            if escalation.case_reference:
                continue
            tx.escalations.update(escalation.id, case_reference=case_reference)
            changed = tx.escalations.get(escalation.id)  # the version this change made (keys its redraw)
            assert changed is not None
            ids.append(tx.outbox.enqueue(f"update:{changed.id}:{changed.version}", channel,
                                         DeliveryKind.card_update, escalation_id=changed.id))
        return ids

    # --- DSL actions ------------------------------------------------------------------------
    def is_dsl(self, channel: str, user: str) -> bool:
        directory = self.directories.get(channel)
        return bool(directory and directory.is_dsl(user))

    def _refused(self, channel: str, user: str, action: str, target: str) -> DeskResult:
        with self.storage.transaction() as tx:
            tx.audit.add(user, "refused", target, f"{action}: not a DSL ({channel})")
        return DeskResult(False, f"Only a Designated Safeguarding Lead can {action}. If you need "
                                 "one, use Talk to a DSL now in your check, or contact your DSL "
                                 "directly.")

    def _ours(self, channel: str, escalation_id: int) -> bool:
        """A DSL acts on the escalations of their own channel's desk (Slack DSLs on Slack's)."""
        with self.storage.read() as tx:
            escalation = tx.escalations.get(escalation_id)
        return escalation is not None and escalation.channel == channel

    def claim(self, channel: str, user: str, escalation_id: int) -> DeskResult:
        if not self.is_dsl(channel, user):
            return self._refused(channel, user, "claim an escalation", f"escalation {escalation_id}")
        if not self._ours(channel, escalation_id):
            return DeskResult(False, "That escalation is not on this desk.")
        now = self.clock.now()
        with self.storage.transaction() as tx:
            changed = tx.escalations.update(escalation_id, when_status=("open",), status="claimed",
                                            claimed_by=user, claimed_at=now, next_reminder_at=None)
            ids = self._announce(tx, channel, escalation_id, user, "claim", (
                "Your escalation #", str(escalation_id), " was claimed by ", Person(user),
                ". They will be in touch.")) if changed else []
        self.outbox.deliver(ids)
        return DeskResult(True, changed=changed, at=now)

    def resolve(self, channel: str, user: str, escalation_id: int, note_text: str | None,
                deliver: bool = True) -> DeskResult:
        if not self.is_dsl(channel, user):
            refused = self._refused(channel, user, "resolve an escalation", f"escalation {escalation_id}")
            return DeskResult(False, refused.message, errors={"note": refused.message})
        if not self._ours(channel, escalation_id):
            return DeskResult(False, errors={"note": "That escalation is not on this desk."})
        try:
            note = parse_note(note_text)
        except RecordErrors as exc:
            return DeskResult(False, errors=exc.errors)
        findings = scan(note)
        if findings:
            return DeskResult(False, errors={"note": f"This looks like it holds {describe(findings)}: "
                                                     "describe the outcome without identifying anyone."})
        now = self.clock.now()
        with self.storage.transaction() as tx:
            changed = tx.escalations.update(escalation_id, when_status=("open", "claimed"),
                                            status="resolved", resolved_by=user, resolved_at=now,
                                            resolution_note=note, next_reminder_at=None)
            if not changed:
                return DeskResult(False, errors={"note": "This escalation is already resolved."})
            ids = self._announce(tx, channel, escalation_id, user, "resolve", (
                # the closed loop: plain words and no details (the note stays on the DSLs' card)
                "Your escalation #", str(escalation_id), " was looked at and closed by ", Person(user),
                ". Nothing more is needed from you for it; if something new happens, run a new check "
                "or talk to your DSL."))
        if deliver:
            self.outbox.deliver(ids)
        return DeskResult(True, changed=True, at=now)

    def more_info(self, channel: str, user: str, escalation_id: int, version: int) -> DeskResult:
        """Ask the requester for more, once per card version (twenty presses, one request)."""
        if not self.is_dsl(channel, user):
            return self._refused(channel, user, "ask for more information", f"escalation {escalation_id}")
        now = self.clock.now()
        with self.storage.transaction() as tx:
            escalation = tx.escalations.get(escalation_id)
            if escalation is None or escalation.channel != channel:
                return DeskResult(False, "That escalation is not on this desk.")
            if not escalation.open:
                return DeskResult(True)
            changed = tx.escalations.update(escalation_id, when_version=version, more_info_by=user,
                                            more_info_at=now)
            ids: list[int | None] = []
            if changed:
                requester = Person(escalation.requester)
                ids.append(tx.outbox.enqueue(
                    f"more_info:{escalation_id}:{version}", channel, DeliveryKind.more_info,
                    escalation_id=escalation_id, payload={"message": encode_message((
                        requester, ", ", Person(user), " needs more information about escalation #",
                        str(escalation_id), ". Please reply in this thread (no names or identifying "
                        "details here) or call them."))}))
                ids += self._announce(tx, channel, escalation_id, user, "more_info", (
                    Person(user), " needs more information about your escalation #", str(escalation_id),
                    ": please get in touch with them."), notice_key=f"more_info:{version}")
        self.outbox.deliver(ids)
        return DeskResult(True, changed=changed, at=now)

    def _announce(self, tx: Tx, channel: str, escalation_id: int, actor: str, action: str,
                  message: Message, notice_key: str | None = None) -> list[int | None]:
        """After a DSL changed an escalation: audit it, redraw the card, tell the requester."""
        escalation = tx.escalations.get(escalation_id)
        assert escalation is not None
        tx.audit.add(actor, action, f"escalation {escalation_id}")
        return [
            tx.outbox.enqueue(f"update:{escalation_id}:{escalation.version}", channel,
                              DeliveryKind.card_update, escalation_id=escalation_id),
            tx.outbox.enqueue(f"notice:{escalation_id}:{notice_key or action}", channel,
                              DeliveryKind.notice, escalation_id=escalation_id,
                              payload={"to": escalation.requester, "message": encode_message(message)}),
        ]

    # --- reminders ----------------------------------------------------------------------------
    def send_reminders(self) -> int:
        """Queue the next reminder for every unclaimed escalation that is due, then deliver.
        Each escalation in its own transaction: one bad row is logged and skipped."""
        now = self.clock.now()
        with self.storage.read() as tx:
            due = [e.id for e in tx.escalations.due_reminders(now) if self.serves(e.channel)]
        sent, ids = 0, []
        for escalation_id in due:
            try:
                ids += self._remind(escalation_id, now)
                sent += 1
            except Exception:  # noqa: BLE001 - the others must still be reminded
                log.exception("reminder for escalation %s failed", escalation_id)
        self.outbox.deliver(ids)
        return sent

    def _remind(self, escalation_id: int, now: datetime) -> list[int | None]:
        with self.storage.transaction() as tx:
            escalation = tx.escalations.due_reminder(escalation_id, now)
            if escalation is None:
                return []  # claimed meanwhile, or another scheduler took it
            step = next_step(escalation, self.policy, self.directories[escalation.channel].deputies(), now)
            if step is None:
                tx.escalations.update(escalation.id, next_reminder_at=None)
                return []
            ids = [tx.outbox.enqueue(f"reminder:{escalation.id}:{step.number}", escalation.channel,
                                     step.kind, escalation_id=escalation.id,
                                     payload={"message": encode_message(step.note), "broadcast": True})]
            for person, message in step.direct:
                ids.append(tx.outbox.enqueue(f"reminder:{escalation.id}:{step.number}:{person}",
                                             escalation.channel, DeliveryKind.notice,
                                             escalation_id=escalation.id,
                                             payload={"to": person, "message": encode_message(message)}))
            tx.escalations.set_reminder(escalation.id, step.number, step.next_at)
            tx.audit.add("scheduler", "reminder", f"escalation {escalation.id}", f"reminder {step.number}")
            return ids

    # --- exports ------------------------------------------------------------------------------
    def queue_weekly_export(self, period: str, start: datetime, end: datetime) -> int:
        """The weekly export for each desk channel, once per period (the outbox key says so)."""
        queued = 0
        with self.storage.transaction() as tx:
            for channel in self.channels:
                if tx.outbox.enqueue(f"export:weekly:{channel}:{period}", channel, DeliveryKind.export,
                                     payload={"start": iso(start), "end": iso(end)}) is not None:
                    tx.audit.add("scheduler", "export", "decisions",
                                 f"weekly {start.date()} to {end.date()} ({channel})")
                    queued += 1
        return queued

    def request_export(self, channel: str, user: str, start: datetime, end: datetime,
                       request_key: str) -> DeskResult:
        if not self.is_dsl(channel, user):
            return self._refused(channel, user, "export the decision log", "export")
        with self.storage.transaction() as tx:
            delivery_id = tx.outbox.enqueue(f"export:request:{channel}:{request_key}", channel,
                                            DeliveryKind.export,
                                            payload={"start": iso(start), "end": iso(end),
                                                     "requested_by": user})
            if delivery_id is not None:
                tx.audit.add(user, "export", "decisions", f"{start.date()} to {end.date()} ({channel})")
        self.outbox.deliver([delivery_id])
        with self.storage.read() as tx:
            delivery = tx.outbox.by_key(f"export:request:{channel}:{request_key}")
        if delivery is not None and delivery.status.value == "delivered":
            return DeskResult(True, "The export is in the DSL channel.")
        return DeskResult(True, "The export could not be posted yet: it will be retried, and the DSL "
                                "channel will get it as soon as it can.")

    def build_export(self, delivery: Delivery) -> ExportFile:
        start = datetime.fromisoformat(delivery.payload["start"]).astimezone(self.tz)
        end = datetime.fromisoformat(delivery.payload["end"]).astimezone(self.tz)
        with self.storage.transaction() as tx:
            reason = "export" if "requested_by" in delivery.payload else "weekly export"
            point = tx.checkpoints.write(reason)
        buffer = io.BytesIO()
        summary = export.export(self.storage, start, end, "xlsx", buffer, checkpoint=point.text())
        last_day = (end - timedelta(days=1)).astimezone(self.tz).date()
        first_day = start.astimezone(self.tz).date()
        requested_by = delivery.payload.get("requested_by")
        return ExportFile(filename=f"canishare-decisions-{first_day}-to-{last_day}.xlsx",
                          content=buffer.getvalue(), title=f"Decisions {first_day} to {last_day}",
                          summary=summary.lines(start, end - timedelta(days=1)),
                          requested_by=Person(requested_by) if requested_by else None,
                          checkpoint=point.text())

    def latest_decisions(self, channel: str, user: str, limit: int = 10) -> DeskResult:
        if not self.is_dsl(channel, user):
            with self.storage.transaction() as tx:
                tx.audit.add(user, "refused", "log", f"log: not a DSL ({channel})")
            return DeskResult(False, "Only a Designated Safeguarding Lead can read the decision log.")
        with self.storage.transaction() as tx:
            tx.audit.add(user, "log", "decisions", f"last {limit} ({channel})")
            rows = list(tx.decisions.iter(limit=limit, newest_first=True))
        lines = [f"#{r['id']} {r['created_at'][:16].replace('T', ' ')} "
                 f"{decision_label(self.bundle, r)} · {r['decision'].replace('_', ' ')}"
                 for r in rows]
        return DeskResult(True, "Latest decisions\n" + ("\n".join(lines) or "None yet."))

    # --- what a card says ---------------------------------------------------------------------
    def local(self, moment: datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%a %d %b %H:%M") if moment else ""

    def card_view(self, escalation: Escalation) -> CardView:
        if escalation.kind is Kind.outcome or escalation.outcome_id:
            what = verdict_label(self.bundle, escalation.verdict, escalation.answers)
        else:
            what = "Asked to talk to a DSL now, before reaching an answer"
        also = [verdict_label(self.bundle, s.get("verdict", ""), escalation.answers)
                for s in escalation.secondary]
        answers = [Fact(question_text(self.bundle, key, escalation.answers),
                        self._answer(key, value, escalation.answers))
                   for key, value in escalation.answers.items()]
        rules = [self.bundle.rules[r].name.replace("_", " ").capitalize() if r in self.bundle.rules else r
                 for r in escalation.rules]
        gateways = [self.bundle.gateways[g].title if g in self.bundle.gateways else g
                    for g in escalation.gateways]
        return CardView(
            escalation_id=escalation.id, version=escalation.version,
            urgent=escalation.urgency is Urgency.urgent,
            title=f"{escalation.urgency.value.title()} safeguarding escalation #{escalation.id}",
            requester=Person(escalation.requester), what=what, also=also, answers=answers,
            rules=rules, gateways=gateways, raised_at=self.local(escalation.created_at),
            case_reference=escalation.case_reference,
            out_of_hours="" if in_working_hours(escalation.created_at, self.policy)
            else self.policy.out_of_hours_route,
            status=self.status(escalation),
            can_claim=escalation.status is Status.open,
            can_resolve=escalation.status is not Status.resolved,
            can_ask=escalation.status is not Status.resolved,
            **self._law_view(escalation))

    def _law_view(self, escalation: Escalation) -> dict[str, Any]:
        """How soon, the requester's own duties and the law's date, in plain words (E3)."""
        manifest = self.bundle.manifest
        how_soon = ""
        if escalation.how_soon in {u.value for u in manifest.urgency_labels}:
            how_soon = manifest.urgency_labels[SchemaUrgency(escalation.how_soon)]
        duties = tuple("Their own duty (telling you does not discharge it): "
                       + manifest.personal_duties[d].text
                       for d in escalation.personal_duties if d in manifest.personal_duties)
        law = law_as_at_line(date.fromisoformat(escalation.law_as_at)) if escalation.law_as_at else ""
        return {"how_soon": how_soon, "duties": duties, "law_as_at": law}

    def status(self, escalation: Escalation) -> Message:
        if escalation.status is Status.resolved:
            return ("Resolved by ", Person(escalation.resolved_by), " at ",
                    self.local(escalation.resolved_at), ": ", escalation.resolution_note)
        parts: Message = ("Unclaimed",)
        if escalation.status is Status.claimed:
            parts = ("Claimed by ", Person(escalation.claimed_by), " at ", self.local(escalation.claimed_at))
        if escalation.more_info_by:
            parts = (*parts, " · more information asked by ", Person(escalation.more_info_by), " at ",
                     self.local(escalation.more_info_at))
        return parts

    def _answer(self, key: str, value: Any, answers: Mapping[str, Any]) -> str:
        values = value if isinstance(value, list) else [value]
        return ", ".join(answer_label(self.bundle, key, str(v), answers) for v in values)

    def fallback_message(self, delivery: Delivery, escalation: Escalation | None, error: str) -> Message:
        if delivery.kind is DeliveryKind.export:
            return ("The canishare export could not be posted in the DSL channel (", error,
                    "). It will be retried; ask your administrator to check the bot's access.")
        assert escalation is not None
        view = self.card_view(escalation)
        # plain words: the service's error code is for the operator's log, not for a DSL
        return (view.title, " from ", view.requester, " could not be posted in the DSL channel, so it "
                "comes to you directly. ", view.what, ". Please contact ", view.requester,
                " now. You can claim it with the card below (the other DSLs see who did).")


__all__ = ["DslDesk", "EscalationNotice"]
