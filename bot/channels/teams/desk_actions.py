"""The DSL team's side in Teams: Claim, Show details, Resolved (a dialog with the note), Need more
info, the `export`, `log`, `start` and `help` commands, and the export file a DSL accepts.
They translate; the desk decides, audits and delivers (through the outbox).

Synchronous like `chat.py`: each method runs on a worker thread and returns a `Reply`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from bot.channels.teams import cards
from bot.channels.teams.cards import Verb
from bot.channels.teams.chat import CHANNEL, Reply, TeamsChat
from bot.channels.teams.connector import NotInstalled
from bot.channels.teams.incoming import Incoming
from bot.channels.teams.notifier import TeamsNotifier
from bot.channels.teams.server import card_message, invoke_message
from bot.dsl import export
from bot.dsl.desk import DslDesk
from bot.dsl.model import DeliveryKind
from bot.dsl.ports import DeliveryError
from bot.storage import Storage

log = logging.getLogger("canishare.teams")
DIALOG_VERBS = {Verb.DSL_DETAILS, Verb.DSL_RESOLVE_OPEN}
ACTION_VERBS = {Verb.DSL_CLAIM, Verb.DSL_MORE_INFO}
SUBMIT_ACTIONS = {Verb.DSL_RESOLVE_SUBMIT}
EXPORT_USAGE = "Usage: export [YYYY-MM-DD] [YYYY-MM-DD] (default: last week)"
DSL_HELP = (
    "canishare posts escalations here: Claim one, use Show details to see the answers privately, "
    "Need more info to ask the requester in the card's thread, and Resolved to close it with a note. "
    "Unclaimed escalations are reminded in their thread, then sent to the deputies.\n"
    "@mention canishare with: export [YYYY-MM-DD] [YYYY-MM-DD] for the decision log (the file comes "
    "to your personal chat), log for the latest decisions, start for a check in your personal chat.")


@dataclass(frozen=True)
class Upload:
    """An accepted export file, to be written to the DSL's OneDrive upload session."""

    delivery_id: int
    url: str
    content: bytes
    name: str
    content_url: str
    unique_id: str
    file_type: str


def _escalation_ref(data: dict[str, Any]) -> tuple[int, int] | None:
    try:
        return int(data["e"]), int(data.get("v", 0))
    except (KeyError, TypeError, ValueError):
        return None


def _upload_url_ok(url: str) -> bool:
    """OneDrive upload sessions are https; plain http only to a local test service."""
    parsed = urlparse(url)
    local = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parsed.hostname) and (parsed.scheme == "https" or (parsed.scheme == "http" and local))


class TeamsDeskActions:
    def __init__(self, desk: DslDesk, notifier: TeamsNotifier, chat: TeamsChat, storage: Storage):
        self.desk, self.notifier, self.chat, self.storage = desk, notifier, chat, storage

    def in_dsl_team(self, inc: Incoming) -> bool:
        """A channel of the DSL team (the team of DSLs only), not any team canishare is in."""
        return bool(inc.team_id) and inc.team_id == self.notifier.config.dsl_team_id

    def handles(self, inc: Incoming) -> bool:
        if inc.name == "adaptiveCard/action":
            return inc.verb in ACTION_VERBS
        if inc.name == "task/fetch":
            return inc.dialog_id in DIALOG_VERBS
        if inc.name == "task/submit":
            return inc.submitted in SUBMIT_ACTIONS
        return inc.name == "fileConsent/invoke"

    def _card_now(self, escalation_id: int) -> cards.Card | None:
        with self.storage.read() as tx:
            escalation = tx.escalations.get(escalation_id)
        return self.notifier.escalation_card(self.desk.card_view(escalation)) if escalation else None

    def _refuse_quietly(self, user: str, target: str, what: str) -> str:
        with self.storage.transaction() as tx:
            tx.audit.add(user, "refused", target, f"{what}: not a DSL ({CHANNEL})")
        return (f"Only a Designated Safeguarding Lead can {what}. If you need one, use Talk to a DSL now "
                "in your check, or contact your DSL directly.")

    # --- buttons on the card ----------------------------------------------------------------------
    def on_action(self, inc: Incoming) -> Reply:
        ref = _escalation_ref(inc.data)
        if ref is None:
            return Reply(answer=invoke_message("That card is out of date."))
        if inc.verb == Verb.DSL_CLAIM:
            result = self.desk.claim(CHANNEL, inc.user, ref[0])
        else:
            result = self.desk.more_info(CHANNEL, inc.user, ref[0], ref[1])
        if not result.ok:
            return Reply(answer=invoke_message(result.message))
        card = self._card_now(ref[0])  # everyone's copy is updated by the outbox; this is the clicker's
        return Reply(answer=cards.replace_card(card) if card else invoke_message("Done."))

    def open_dialog(self, inc: Incoming) -> Reply:
        ref = _escalation_ref(inc.data)
        if ref is None:
            return Reply(answer=cards.dialog_closed("That card is out of date."))
        escalation_id = ref[0]
        if inc.dialog_id == Verb.DSL_RESOLVE_OPEN:
            if not self.desk.is_dsl(CHANNEL, inc.user):
                return Reply(answer=cards.dialog_closed(self.desk.resolve(CHANNEL, inc.user, escalation_id,
                                                                          None).message))
            return Reply(answer=cards.dialog(cards.resolve_dialog_card(escalation_id),
                                             f"Resolve escalation #{escalation_id}", height="medium"))
        if not self.desk.is_dsl(CHANNEL, inc.user):
            return Reply(answer=cards.dialog_closed(self._refuse_quietly(
                inc.user, f"escalation {escalation_id}", "see an escalation's details")))
        with self.storage.transaction() as tx:
            escalation = tx.escalations.get(escalation_id)
            if escalation is not None:
                tx.audit.add(inc.user, "details", f"escalation {escalation_id}", CHANNEL)
        if escalation is None:
            return Reply(answer=cards.dialog_closed("That escalation is no longer here."))
        details = self.notifier.details_card(self.desk.card_view(escalation))
        return Reply(answer=cards.dialog(details, f"Escalation #{escalation_id}"))

    def submit(self, inc: Incoming) -> Reply:
        ref = _escalation_ref(inc.data)
        if ref is None:
            return Reply(answer=cards.dialog_closed("That card is out of date."))
        note = str(inc.data.get("note") or "")
        result = self.desk.resolve(CHANNEL, inc.user, ref[0], note)
        if result.errors:
            error = result.errors.get("note") or next(iter(result.errors.values()))
            return Reply(answer=cards.dialog(cards.resolve_dialog_card(ref[0], note=note, error=error),
                                             f"Resolve escalation #{ref[0]}", height="medium"),
                         late=f"Escalation #{ref[0]} was not resolved: {error}")
        return Reply(answer=cards.dialog_closed(f"Escalation #{ref[0]} is resolved: the card is updated "
                                                "and the requester will be told."))

    # --- commands ------------------------------------------------------------------------------------
    def on_channel_message(self, inc: Incoming) -> Reply:
        """An @mention in a team: `export`, `log`, `start`, else help."""
        word = inc.text.split()[0].lower() if inc.text.split() else ""
        if word in ("export", "log") and not self.in_dsl_team(inc):
            # every member of a staff team would read the log or the export summary
            where = inc.team_id or "no team"
            self.chat.conv.refused(inc.user, f"teams {word}", f"outside the DSL team: {where}")
            return self._say(f"`{word}` works only in the DSL team's channel, where only DSLs can read "
                             "the answer. Ask there, or in your personal chat with canishare for an export.")
        if word == "export":
            return self.export(inc)
        if word == "log":
            return self.log(inc)
        if word in ("start", "restart", "new"):
            return self.start_in_personal_chat(inc)
        return Reply(send=[card_message(cards.text_card(DSL_HELP, title="canishare in this team"),
                                        "canishare in this team")])

    def export(self, inc: Incoming) -> Reply:
        parts = inc.text.split()[1:]
        tz = self.desk.policy.timezone
        try:
            start, end = export.period(parts, self.desk.clock.now(), tz)
        except ValueError:
            return self._say(EXPORT_USAGE)
        result = self.desk.request_export(CHANNEL, inc.user, start, end, f"teams:{inc.activity_id}")
        if not result.ok:
            return self._say(result.message)
        with self.storage.read() as tx:
            delivery = tx.outbox.by_key(f"export:request:{CHANNEL}:teams:{inc.activity_id}")
        if delivery is not None and delivery.status.value == "delivered":
            return self._say("The summary is in the DSL channel and the file is in your personal chat "
                             "with canishare: accept it there to save it to your OneDrive.")
        return self._say(result.message)

    def log(self, inc: Incoming) -> Reply:
        result = self.desk.latest_decisions(CHANNEL, inc.user)
        title, _, rest = result.message.partition("\n")
        return Reply(send=[card_message(cards.text_card(rest or title, title=title if rest else None),
                                        title)])

    def start_in_personal_chat(self, inc: Incoming) -> Reply:
        try:
            url, conversation = self.notifier.personal_chat(inc.user)
            self.notifier.connector.send(url, conversation, self.chat.start_card(inc.user))
        except NotInstalled:
            return self._say("Add canishare for yourself first (Apps > canishare > Add), then type start "
                             "in your chat with it.")
        except DeliveryError as exc:
            log.warning("could not start a check in %s's personal chat: %s", inc.user, exc)
            return self._say("Teams did not let canishare open your personal chat just now: type start in "
                             "your chat with canishare.")
        return self._say("A new check is waiting in your personal chat with canishare.")

    @staticmethod
    def _say(text: str) -> Reply:
        return Reply(send=[card_message(cards.text_card(text), text[:100])])

    # --- the export file, accepted or declined -------------------------------------------------------
    def file_consent(self, inc: Incoming) -> tuple[Reply, Upload | None]:
        """A DSL accepted (or declined) the file offered in their personal chat. The file is
        built again from the log for that delivery's period, only for the person it was offered
        to, and only while they are still a DSL."""
        value = inc.value
        context = getattr(value, "context", None) or {}
        action = str(getattr(getattr(value, "action", ""), "value", getattr(value, "action", "")) or "")
        delivery_id = context.get("delivery") if isinstance(context, dict) else None
        ok = {"status": 200}
        if not isinstance(delivery_id, int) or context.get("to") != inc.user:
            self._refuse_quietly(inc.user, f"delivery {delivery_id}", "accept another person's export")
            return Reply(answer=ok), None
        if action != "accept":
            with self.storage.transaction() as tx:
                tx.audit.add(inc.user, "export_declined", f"delivery {delivery_id}", CHANNEL)
            return Reply(answer=ok, send=[card_message(cards.text_card(
                "Not saved. Ask for it again with export when you need it."), "Export not saved")]), None
        if not self.desk.is_dsl(CHANNEL, inc.user):
            self._refuse_quietly(inc.user, f"delivery {delivery_id}", "save the decision log")
            return Reply(answer=ok), None
        info = getattr(value, "upload_info", None)
        url = str(getattr(info, "upload_url", "") or "")
        with self.storage.read() as tx:
            delivery = tx.outbox.get(delivery_id)
        if delivery is None or delivery.kind is not DeliveryKind.export or not _upload_url_ok(url):
            log.error("file consent for delivery %s refused: unknown delivery or upload URL", delivery_id)
            return Reply(answer=ok), None
        built = self.desk.build_export(delivery)
        return Reply(answer=ok), Upload(delivery_id, url, built.content, built.filename,
                                        str(getattr(info, "content_url", "") or ""),
                                        str(getattr(info, "unique_id", "") or ""),
                                        str(getattr(info, "file_type", "") or "xlsx"))

    def file_saved(self, inc: Incoming, upload: Upload, error: str = "") -> None:
        with self.storage.transaction() as tx:
            if error:
                tx.audit.add(inc.user, "export_failed", f"delivery {upload.delivery_id}",
                             f"{CHANNEL}: {error}")
            else:
                tx.audit.add(inc.user, "export_saved", f"delivery {upload.delivery_id}",
                             f"{upload.name} saved to OneDrive ({CHANNEL})")
        if error:
            log.error("TEAMS: export file for delivery %s not saved for %s: %s", upload.delivery_id,
                      inc.user, error)
        else:
            log.info("export file for delivery %s saved by %s", upload.delivery_id, inc.user)
