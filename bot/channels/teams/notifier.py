"""The Teams side of the DSL desk's ports: the escalation card in the DSL team's standard channel,
thread replies, personal-chat messages and exports, and knowing who the DSLs are.

Every call goes through `TeamsConnector`, whose failures are `DeliveryError`s, so the outbox
retries, honours `Retry-After` and falls back exactly as it does for Slack. Two things are
Teams' own:
- someone without the app installed cannot be messaged (`MemberNotFoundInConversation`): the
  failure is logged at ERROR and, for a notice about an escalation, the DSLs are told in the
  card's thread to pass it on, so the requester is never silently left out;
- files cannot be posted to a channel without a tenant-wide Microsoft Graph permission, so an
  export is a summary card in the channel and the file itself is offered to each DSL in their
  personal chat (a FileConsentCard: accepting saves it to their OneDrive; README explains).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from microsoft_teams.api import Attachment, MessageActivityInput

from bot.channels.teams import cards
from bot.channels.teams.config import TeamsConfig, teams_config
from bot.channels.teams.connector import NotInstalled, TeamsConnector
from bot.channels.teams.contacts import CHANNEL, Contact, ContactBook
from bot.channels.teams.server import TokenFunction, card_message
from bot.core.clock import Clock
from bot.dsl.model import CardState, Delivery, DeliveryKind
from bot.dsl.ports import CardView, DeliveryError, DslGroup, ExportFile, Message, Person
from bot.settings import Settings
from bot.storage import Storage

log = logging.getLogger("canishare.teams")
FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"


def people_in(message: Message) -> set[str]:
    return {segment.id for segment in message if isinstance(segment, Person)}


class TeamsDirectory:
    """DSLs are the listed Entra object ids plus the members of the DSL team, read with the bot's
    roster API (no Graph permission) and cached for a minute of the desk's clock, so a click
    costs no extra call; deputies are listed."""

    def __init__(self, connector: TeamsConnector, config: TeamsConfig, contacts: ContactBook, clock: Clock,
                 cache_seconds: float = 60.0):
        self.connector, self.config, self.contacts, self.clock = connector, config, contacts, clock
        self.cache_seconds = cache_seconds
        self._roster: tuple[Any, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def service_url(self) -> str:
        """Where the DSL team is served: as Teams said when the app was added to it, else the
        configured (public cloud) service URL."""
        team = self.contacts.team(self.config.dsl_team_id)
        return team.service_url if team else self.config.service_url

    def roster(self) -> dict[str, str]:
        """Entra object id -> name of every DSL team member. Raises `DeliveryError`."""
        now = self.clock.now()
        with self._lock:
            if self._roster and (now - self._roster[0]).total_seconds() < self.cache_seconds:
                return self._roster[1]
        members = self.connector.team_members(self.service_url(), self.config.dsl_team_id)
        with self._lock:
            self._roster = (now, members)
        return members

    def _roster_or_empty(self) -> dict[str, str]:
        try:
            return self.roster()
        except DeliveryError as exc:
            log.warning("could not read the DSL team's roster: %s", exc)
            return {}

    def is_dsl(self, user_id: str) -> bool:
        if user_id in self.config.dsl_user_ids:
            return True
        return user_id in self._roster_or_empty()  # cannot check: refuse, and the refusal is audited

    def deputies(self) -> list[str]:
        return sorted(self.config.deputy_dsl_user_ids)

    def fallback_people(self) -> list[str]:
        return sorted(self.config.dsl_user_ids | self.config.deputy_dsl_user_ids)

    def everyone(self) -> list[str]:
        """Every DSL and deputy: the DSL group mention and the weekly file go to them."""
        return sorted(set(self.fallback_people()) | set(self._roster_or_empty()))

    def names(self, ids: set[str]) -> dict[str, str]:
        """Display names for mentions: from the roster, else as the person last showed in Teams."""
        if not ids:
            return {}
        roster = self._roster_or_empty()
        found = {i: roster[i] for i in ids if roster.get(i)}
        found.update(self.contacts.names(ids - set(found)))
        return found


class TeamsNotifier:
    channel = CHANNEL

    def __init__(self, connector: TeamsConnector, directory: TeamsDirectory, contacts: ContactBook,
                 storage: Storage, config: TeamsConfig):
        self.connector, self.directory, self.contacts = connector, directory, contacts
        self.storage, self.config = storage, config

    # --- rendering, shared with the channel's own answers -----------------------------------------
    def escalation_card(self, card: CardView) -> cards.Card:
        ids = {card.requester.id, *people_in(card.status)}
        return cards.escalation_card(card, self.directory.names(ids))

    def details_card(self, card: CardView) -> cards.Card:
        return cards.escalation_details_card(card, self.directory.names({card.requester.id}))

    def _message(self, message: Message, group: bool) -> MessageActivityInput:
        """A message as a card; the DSL group (in the DSL channel only) is each DSL, mentioned."""
        mentions_group = group and any(isinstance(segment, DslGroup) for segment in message)
        everyone = self.directory.everyone() if mentions_group else []
        names = self.directory.names(people_in(message) | set(everyone))
        return card_message(cards.message_card(message, names, everyone), cards.plain_text(message, names))

    # --- the DSL channel ----------------------------------------------------------------------------
    def post_card(self, card: CardView, delivery: Delivery) -> dict[str, Any]:
        """A new post in the DSL channel. teams.py cannot list a channel's messages without Graph,
        so after a lost response the retry may post the card a second time (the later one is the
        card canishare keeps up to date)."""
        url = self.directory.service_url()
        activity = card_message(self.escalation_card(card), cards.escalation_summary(card))
        activity_id = self.connector.send(url, self.config.dsl_channel_id, activity)
        return {"conversation": self.config.dsl_channel_id, "activity": activity_id, "service_url": url}

    def update_card(self, card: CardView, card_ref: dict[str, Any]) -> None:
        activity = card_message(self.escalation_card(card), cards.escalation_summary(card))
        self.connector.update(card_ref.get("service_url") or self.directory.service_url(),
                              card_ref["conversation"], card_ref["activity"], activity)

    def post_note(self, card_ref: dict[str, Any], message: Message, delivery: Delivery,
                  broadcast: bool = False) -> dict[str, Any]:
        """A reply in the card's thread (Teams has no "also send to channel": the DSL group is
        mentioned instead). Without a card yet, a new post in the channel."""
        channel = card_ref.get("conversation") or self.config.dsl_channel_id
        thread = f"{channel};messageid={card_ref['activity']}" if card_ref.get("activity") else channel
        url = card_ref.get("service_url") or self.directory.service_url()
        activity_id = self.connector.send(url, thread, self._message(message, group=True))
        return {"conversation": thread, "activity": activity_id}

    # --- people ---------------------------------------------------------------------------------------
    def personal_chat(self, person: str) -> tuple[str, str]:
        """(service URL, conversation id) of someone's chat with the bot: as stored at their first
        contact, or opened now (which needs the app installed for them, else `NotInstalled`)."""
        contact = self.contacts.person(person)
        if contact and contact.conversation_id:
            return contact.service_url or self.directory.service_url(), contact.conversation_id
        url = self.directory.service_url()
        conversation = self.connector.open_personal_chat(url, contact.user_id if contact else "", person)
        self.contacts.remember(Contact(person, conversation_id=conversation, service_url=url))
        return url, conversation

    def tell(self, person: str, message: Message, delivery: Delivery,
             card: CardView | None = None) -> dict[str, Any]:
        try:
            url, conversation = self.personal_chat(person)
            activity = self._message(message, group=False)
            if card is not None:  # the escalation card too: Claim, Resolve and the rest work from here
                activity.attachments = [*(activity.attachments or []),
                                        *card_message(self.escalation_card(card)).attachments]
            activity_id = self.connector.send(url, conversation, activity)
        except NotInstalled as exc:
            log.error("TEAMS DELIVERY FAILED %s to %s: %s", delivery.key, person, exc)
            relayed = self._relay_in_thread(person, message, delivery)
            if relayed is None:
                raise
            return relayed
        return {"conversation": conversation, "activity": activity_id}

    def _relay_in_thread(self, person: str, message: Message, delivery: Delivery) -> dict[str, Any] | None:
        """The fallback route for a notice to someone without the app: ask the DSLs, in the
        escalation's thread, to pass it on. None when there is no delivered card to reply to."""
        if delivery.kind is not DeliveryKind.notice or not delivery.escalation_id:
            return None
        with self.storage.read() as tx:
            escalation = tx.escalations.get(delivery.escalation_id)
        if escalation is None or escalation.card_state is not CardState.delivered:
            return None
        note: Message = (Person(person), " does not have canishare in Teams, so this message could not "
                         "reach them. Please pass it on directly: “", *message, "”")
        posted = self.post_note(escalation.card_ref, note, delivery)
        log.error("TEAMS: told the DSL channel to pass on %s to %s (app not installed for them)",
                  delivery.key, person)
        return {**posted, "relayed_for": person}

    # --- exports ---------------------------------------------------------------------------------
    def deliver_export(self, export: ExportFile, delivery: Delivery) -> dict[str, Any]:
        """The file to each DSL (or to the DSL who asked) as a file to accept in their personal
        chat, then the summary card in the DSL channel. Each step is done once: a retry after a
        partial failure skips what already went (progress is kept in storage)."""
        done = self.contacts.progress(delivery.key)
        recipients = [export.requested_by.id] if export.requested_by else self.directory.everyone()
        offered, unreachable, failures = [], [], []
        for person in recipients:
            step = f"file:{person}"
            if step in done:
                offered.append(person)
                continue
            try:
                self._offer_file(person, export, delivery)
            except NotInstalled as exc:
                log.error("TEAMS DELIVERY FAILED %s: file to %s: %s", delivery.key, person, exc)
                unreachable.append(person)
                continue
            except DeliveryError as exc:
                failures.append(exc)
                continue
            self.contacts.mark_done(delivery.key, step)
            offered.append(person)
        if failures:
            raise failures[0]  # retried later; what was offered is not offered again
        if "summary" not in done:
            self._post_summary(export, offered, unreachable)
            self.contacts.mark_done(delivery.key, "summary")
        if not offered:
            raise DeliveryError("Teams: the export file could not be offered to any DSL (is canishare "
                                "installed for them?)", permanent=True)
        return {"files": offered, "unreachable": unreachable}

    def _offer_file(self, person: str, export: ExportFile, delivery: Delivery) -> None:
        context = {"delivery": delivery.id, "to": person}
        consent = Attachment(content_type=FILE_CONSENT, name=export.filename, content={
            "description": export.title, "sizeInBytes": len(export.content),
            "acceptContext": context, "declineContext": context})
        activity = MessageActivityInput(
            text=cards.escape(f"{export.title}: accept to save the file to your OneDrive."),
            attachments=[consent], summary=export.title)
        url, conversation = self.personal_chat(person)
        self.connector.send(url, conversation, activity)
        with self.storage.transaction() as tx:
            tx.audit.add("canishare", "export_offered", f"delivery {delivery.id}",
                         f"{export.filename} offered to {person} ({CHANNEL})")
        log.info("export %s offered to %s in Teams", delivery.key, person)

    def _post_summary(self, export: ExportFile, offered: list[str], unreachable: list[str]) -> None:
        note = (f"The file went to {len(offered)} DSL{'s' if len(offered) != 1 else ''} in their chat "
                "with canishare: accept it there to save it to your OneDrive.")
        if unreachable:
            note += (f" {len(unreachable)} could not be sent it: canishare is not installed for them "
                     "in Teams.")
        ids = {export.requested_by.id} if export.requested_by else set()
        card = cards.export_summary_card(export, self.directory.names(ids), note)
        self.connector.send(self.directory.service_url(), self.config.dsl_channel_id,
                            card_message(card, export.title))


def teams_desk(settings: Settings, storage: Storage, clock: Clock, *,
               token: TokenFunction | None = None) -> tuple[TeamsNotifier, TeamsDirectory]:
    """The notifier and directory the composition root hands the desk. `token` replaces MSAL
    (tests and benchmarks only)."""
    config = teams_config(settings)
    connector = TeamsConnector(config, token=token)
    contacts = ContactBook(storage)
    directory = TeamsDirectory(connector, config, contacts, clock)
    return TeamsNotifier(connector, directory, contacts, storage, config), directory
