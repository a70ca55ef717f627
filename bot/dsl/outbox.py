"""Delivering what the outbox holds: cards, reminders, notices and exports.

Each row is claimed (so two processes never send it at once), sent through its channel's
notifier, and marked delivered only after the call succeeded; a failure is recorded with its
error and retried with backoff that honours `Retry-After`. When a DSL-bound delivery keeps
failing (a few attempts or a few minutes, both settings), the DSLs and deputies are messaged
directly and an ERROR line is logged for the operator's monitoring; the original keeps being
retried. A crash between a send and its bookkeeping repeats at most that one message.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.core.clock import Clock
from bot.dsl.model import CardState, Delivery, DeliveryKind, Escalation
from bot.dsl.ports import (
    CardView,
    DeliveryError,
    DslDirectory,
    DslNotifier,
    ExportFile,
    Message,
    decode_message,
    encode_message,
)
from bot.storage import Storage, Tx

log = logging.getLogger("canishare.outbox")
FALLS_BACK = {DeliveryKind.card, DeliveryKind.reminder, DeliveryKind.deputy, DeliveryKind.export}
NOTES = {DeliveryKind.reminder, DeliveryKind.deputy, DeliveryKind.more_info, DeliveryKind.note}
DIRECT = {DeliveryKind.notice, DeliveryKind.fallback}
TOLD_NOT_REACHED = "told-not-reached"  # job_runs mark: this escalation's requester read "not reached yet"


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_seconds: float = 5.0
    max_delay_seconds: float = 900.0
    fallback_attempts: int = 3
    fallback_minutes: float = 5.0
    give_up_days: float = 7.0
    lease_seconds: float = 60.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        backoff = min(self.max_delay_seconds, self.first_delay_seconds * 2 ** max(attempts - 1, 0))
        return max(backoff, retry_after or 0.0)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Deliverer:
    def __init__(self, storage: Storage, clock: Clock, notifiers: Mapping[str, DslNotifier],
                 directories: Mapping[str, DslDirectory], *,
                 card_view: Callable[[Escalation], CardView],
                 fallback_message: Callable[[Delivery, Escalation | None, str], Message],
                 exporter: Callable[[Delivery], ExportFile],
                 policy: RetryPolicy = RetryPolicy(), holder: str | None = None):
        self.storage, self.clock = storage, clock
        self.notifiers, self.directories = dict(notifiers), dict(directories)
        self.card_view, self.fallback_message, self.exporter = card_view, fallback_message, exporter
        self.policy = policy
        self.holder = holder or default_holder()

    @property
    def channels(self) -> list[str]:
        return sorted(self.notifiers)

    # --- entry points -----------------------------------------------------------------------
    def deliver_due(self, budget_seconds: float | None = None) -> dict[str, int]:
        """Everything due for this process's channels, one row at a time, for at most
        `budget_seconds` (so a tick stays short when a service is slow); one bad row never stops
        the others."""
        counts = {"delivered": 0, "failed": 0}
        started = self.clock.now()
        while self.channels:
            if budget_seconds is not None and (self.clock.now() - started).total_seconds() >= budget_seconds:
                break
            with self.storage.transaction() as tx:
                claimed = tx.outbox.claim_due(self.channels, self.holder, self._lease(), 1)
            if not claimed:
                break
            self._tally(counts, claimed[0])
        return counts

    def deliver(self, delivery_ids: Iterable[int | None]) -> dict[str, int]:
        """Try these now (right after the change that made them), if due and not taken."""
        wanted = [i for i in delivery_ids if i is not None]
        counts = {"delivered": 0, "failed": 0}
        if not wanted or not self.channels:
            return counts
        with self.storage.transaction() as tx:
            claimed = tx.outbox.claim_due(self.channels, self.holder, self._lease(), len(wanted), only=wanted)
        for delivery_id in claimed:
            self._tally(counts, delivery_id)
        return counts

    def _lease(self) -> float:
        return self.policy.lease_seconds

    def _tally(self, counts: dict[str, int], delivery_id: int) -> None:
        try:
            ok = self.deliver_one(delivery_id)
        except Exception:  # noqa: BLE001 - a bug in one row must not stop the others
            log.exception("delivery %s: unexpected error", delivery_id)
            ok = False
        if ok is not None:
            counts["delivered" if ok else "failed"] += 1

    # --- one delivery -------------------------------------------------------------------------
    def deliver_one(self, delivery_id: int) -> bool | None:
        """Send a row this process has claimed. True delivered, False failed (will retry)."""
        with self.storage.read() as tx:
            delivery = tx.outbox.get(delivery_id)
            escalation = (tx.escalations.get(delivery.escalation_id)
                          if delivery and delivery.escalation_id else None)
        if delivery is None:
            return None
        age = (self.clock.now() - delivery.created_at).total_seconds()
        if delivery.attempts or age > self.policy.lease_seconds:
            delivery = delivery.model_copy(update={"maybe_sent": True})
        notifier = self.notifiers.get(delivery.channel)
        if notifier is None:
            return None
        try:
            result = self._send(notifier, delivery, escalation)
        except DeliveryError as error:
            self._failed(delivery, escalation, str(error), error.retry_after, error.permanent)
            return False
        except Exception as error:  # noqa: BLE001 - an SDK or rendering bug: retry, and say so
            log.exception("delivery %s (%s): unexpected error", delivery.id, delivery.key)
            self._failed(delivery, escalation, f"{type(error).__name__}: {error}", None, False)
            return False
        redraw = update = None
        with self.storage.transaction() as tx:
            if delivery.kind is DeliveryKind.card and result is not None and escalation:
                ref = {k: v for k, v in result.items() if k != "found"}
                tx.escalations.set_card(escalation.id, CardState.delivered.value, ref)
                now = tx.escalations.get(escalation.id)
                # a card found from an earlier attempt, or drawn before a DSL acted, is stale:
                # redraw it, or it would show "Unclaimed" with a live Claim button for ever
                if now is not None and (result.get("found") or now.version != escalation.version):
                    redraw = tx.outbox.enqueue(f"update:{now.id}:{now.version}:posted", delivery.channel,
                                               DeliveryKind.card_update, escalation_id=now.id)
            tx.outbox.delivered(delivery.id, result or {})
            update = self._tell_reached(tx, delivery, escalation)
        if redraw is not None:
            self.deliver([redraw])
        if update is not None:
            self.deliver([update])
        if delivery.attempts:
            log.info("delivery %s (%s) delivered after %d failed attempt(s)", delivery.id,
                     delivery.key, delivery.attempts)
        return True

    @staticmethod
    def _tell_reached(tx: Tx, delivery: Delivery, escalation: Escalation | None) -> int | None:
        """The card (or a direct message to a DSL) has landed for an escalation whose requester
        was told "we have not reached your DSLs yet": tell them the truth now, once."""
        if (escalation is None or delivery.kind not in (DeliveryKind.card, DeliveryKind.fallback)
                or not tx.housekeeping.job_ran(TOLD_NOT_REACHED, str(escalation.id))):
            return None
        how = "in their channel" if delivery.kind is DeliveryKind.card else "by direct message"
        message = (f"Update on your escalation #{escalation.id}: your DSLs have now been alerted {how}. "
                   "A DSL will contact you. If a child is in immediate danger, call 999.",)
        return tx.outbox.enqueue(f"notice:{escalation.id}:reached", delivery.channel, DeliveryKind.notice,
                                 escalation_id=escalation.id,
                                 payload={"to": escalation.requester, "message": encode_message(message)})

    def _send(self, notifier: DslNotifier, delivery: Delivery,
              escalation: Escalation | None) -> dict | None:
        kind = delivery.kind
        if kind is DeliveryKind.export:
            return notifier.deliver_export(self.exporter(delivery), delivery)
        if kind in DIRECT:
            message = decode_message(delivery.payload.get("message", []))
            if kind is DeliveryKind.fallback and escalation is not None:  # with its buttons: act from here
                card = self.card_view(escalation)
                return notifier.tell(delivery.payload["to"], message, delivery, card=card)
            return notifier.tell(delivery.payload["to"], message, delivery)
        if kind is DeliveryKind.redraw:
            redraw = getattr(notifier, "redraw", None)  # a channel that draws people's messages
            if redraw is None:
                raise DeliveryError(f"{delivery.channel} does not redraw messages", permanent=True)
            return redraw(delivery.payload)
        if escalation is None:
            raise DeliveryError(f"escalation {delivery.escalation_id} not found", permanent=True)
        if kind is DeliveryKind.card:
            if escalation.card_state is CardState.delivered:
                return escalation.card_ref  # posted by an earlier attempt whose bookkeeping is done
            return notifier.post_card(self.card_view(escalation), delivery)
        if kind is DeliveryKind.card_update:
            if escalation.card_state is not CardState.delivered:
                return {}  # the card is not out yet: it will be posted as it stands then
            notifier.update_card(self.card_view(escalation), escalation.card_ref)
            return {}
        if kind in NOTES:
            message = decode_message(delivery.payload.get("message", []))
            return notifier.post_note(escalation.card_ref if escalation.card_state is CardState.delivered
                                      else {}, message, delivery,
                                      broadcast=bool(delivery.payload.get("broadcast")))
        raise DeliveryError(f"unknown delivery kind {kind}", permanent=True)

    # --- failure, retry and fallback ------------------------------------------------------------
    def _failed(self, delivery: Delivery, escalation: Escalation | None, error: str,
                retry_after: float | None, permanent: bool) -> None:
        now = self.clock.now()
        attempts = delivery.attempts + 1
        retry_at = now + timedelta(seconds=self.policy.delay(attempts, retry_after))
        age = now - delivery.created_at
        fall_back = (delivery.kind in FALLS_BACK and delivery.fallback_at is None
                     and (permanent or attempts >= self.policy.fallback_attempts
                          or age >= timedelta(minutes=self.policy.fallback_minutes)))
        # a direct message that can never arrive (no such person) is not retried for a week
        give_up = age >= timedelta(days=self.policy.give_up_days) or (permanent and delivery.kind in DIRECT)
        fallback_ids: list[int | None] = []
        with self.storage.transaction() as tx:
            if not tx.outbox.failed(delivery.id, self.holder, error, retry_at, retry_after):
                return  # another process took the row over meanwhile: its bookkeeping wins
            if fall_back:
                fallback_ids = self._fall_back(tx, delivery, escalation, error)
            if give_up:
                tx.outbox.abandon(delivery.id, f"gave up after {attempts} attempts: {error}")
        # One name, one level (README: What to alert on): a try that will be retried and has not
        # yet cost anyone anything is DELIVERY RETRY, a WARNING; DELIVERY FAILED is always an
        # ERROR: the fallback was used, the delivery was given up, or it can never succeed.
        serious = fall_back or give_up or delivery.fallback_at or permanent
        level, name = (logging.ERROR, "DELIVERY FAILED") if serious else (logging.WARNING, "DELIVERY RETRY")
        log.log(level, "%s %s %s (%s) attempt %d: %s%s%s", name, delivery.kind.value, delivery.key,
                delivery.channel, attempts, error,
                "; DSLs and deputies messaged directly" if fall_back else "",
                "; given up" if give_up else f"; retry at {retry_at.isoformat(timespec='seconds')}")
        if fall_back:
            self.deliver(fallback_ids)

    def _fall_back(self, tx: Tx, delivery: Delivery, escalation: Escalation | None,
                   error: str) -> list[int | None]:
        """Message the DSLs and deputies directly about `delivery` (inside the caller's
        transaction); the original keeps being retried."""
        tx.outbox.fell_back(delivery.id)
        people = self._fallback_people(delivery.channel)
        if not people:
            log.error("DELIVERY FAILED %s: no DSL or deputy ids are set to message directly", delivery.key)
        message = encode_message(self.fallback_message(delivery, escalation, error))
        if delivery.kind is DeliveryKind.card and escalation is not None:
            tx.escalations.set_card(escalation.id, CardState.fallback.value)
        return [tx.outbox.enqueue(f"fallback:{delivery.id}:{person}", delivery.channel, DeliveryKind.fallback,
                                  escalation_id=delivery.escalation_id,
                                  payload={"to": person, "message": message}) for person in people]

    def sweep_overdue(self) -> int:
        """Rows for the DSLs still pending past the fallback window without an attempt that
        failed (a process died sending, or kept hanging): fall back now, and say so."""
        cutoff = self.clock.now() - timedelta(minutes=self.policy.fallback_minutes)
        swept, ids = 0, []
        with self.storage.transaction() as tx:
            for delivery in tx.outbox.overdue(cutoff, [k.value for k in FALLS_BACK]):
                if delivery.channel not in self.notifiers:
                    continue  # the scheduler reports channels nobody here delivers
                escalation = tx.escalations.get(delivery.escalation_id) if delivery.escalation_id else None
                log.error("DELIVERY OVERDUE %s %s (%s): still not delivered after %s minutes; DSLs and "
                          "deputies messaged directly", delivery.kind.value, delivery.key, delivery.channel,
                          self.policy.fallback_minutes)
                ids += self._fall_back(tx, delivery, escalation, "not delivered in time")
                swept += 1
        self.deliver(ids)
        return swept

    def _fallback_people(self, channel: str) -> list[str]:
        directory = self.directories.get(channel)
        if directory is None:
            return []
        try:
            return directory.fallback_people()
        except Exception:  # noqa: BLE001 - the directory may be unreachable for the same reason
            log.exception("could not list the DSLs to message directly")
            return []

