"""The Slack channel: a Bolt app whose listeners only translate between Slack and the core
(`Conversations` for checks, `DslDesk` for DSLs). No flow, record or escalation logic lives here.

Every listener is guarded: an internal error is logged with a correlation id and the person gets
a short apology with a way on, never silence. A repeated delivery (Slack's retries, a replayed
request, a double submission) is acted on once.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.channels.slack import blocks
from bot.channels.slack.desk_actions import SlackDeskActions
from bot.channels.slack.gate import foreign
from bot.channels.slack.metadata import MetadataSigner, TamperedMetadata
from bot.channels.slack.notifier import web_client
from bot.core.answer import short_answer
from bot.core.conversations import (
    AlreadyRecorded,
    Answer,
    Back,
    Conversations,
    IdentifiersFound,
    NotFinished,
    StaleAction,
    Turn,
    UnknownConversation,
)
from bot.core.engine import EngineError, NothingToUndo, OutcomeStep, QuestionStep
from bot.core.presentation import decision_label, profile_line, step_view
from bot.core.privacy import describe, scan
from bot.core.record import RecordErrors, parse_record
from bot.dsl.desk import DslDesk
from bot.dsl.model import DeliveryKind
from bot.settings import Settings

CHANNEL = "slack"
log = logging.getLogger("canishare.slack")

HELP_TEXT = (
    "*canishare* helps you decide whether you can share information to keep a child safe.\n"
    "• `/canishare` or any message here starts a check (or carries on your last one)\n"
    "• `restart` starts a fresh check · `help` shows this · `/canishare practice` for training\n"
    "• Answer with the buttons. Please don't type names or case details here.\n"
    "If a child is in immediate danger, call 999 first."
)
START_WORDS = ("restart", "start", "new", "start again")


def user_of(body: dict[str, Any]) -> str | None:
    return (body.get("user") or {}).get("id") or body.get("user_id") or (
        body.get("event") or {}).get("user")


def ref_of(body: dict[str, Any]) -> dict[str, Any]:
    """The button's value: what conversation, which version, which question (or {} if unusable)."""
    try:
        value = json.loads(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Click:
    user: str
    ref: dict[str, Any]
    message: dict[str, str]
    conversation_id: str
    conv: Conversations


class SlackChannel:
    """Translates Slack requests to conversation actions and steps to Block Kit."""

    def __init__(self, conversations: Conversations, settings: Settings, signer: MetadataSigner,
                 team_id: str = "", enterprise_id: str = "", practice: Conversations | None = None):
        self.conv, self.settings, self.signer = conversations, settings, signer
        self.practice = practice  # the same flows for training: nothing recorded, no DSL alerted
        self.team_id, self.enterprise_id = team_id, enterprise_id  # the installed workspace
        self.bundle = conversations.engine.bundle
        self._dm: dict[str, str] = {}
        self._dm_lock = threading.Lock()

    def conv_for(self, ref: dict[str, Any]) -> Conversations:
        """Practice checks carry "p" on their buttons and live apart from real ones."""
        return self.practice if ref.get("p") and self.practice is not None else self.conv

    # --- rendering ---------------------------------------------------------------------------
    def render(self, turn: Turn, show_help: bool = False, show_more: bool = False) -> list[blocks.Block]:
        notice = None
        if "flows_changed" in turn.notices:
            notice = ("The guidance was updated since you began: your answers were checked "
                      "again against it.")
        if isinstance(turn.step, OutcomeStep):
            view = step_view(self.bundle, turn.step)
            answer = short_answer(view, turn.escalation, practice=turn.practice)
            rendered = blocks.outcome_blocks(answer, view, turn.conversation_id, turn.version,
                                             show_more=show_more)
            return ([blocks.context(f":information_source: {notice}")] if notice else []) + rendered
        assert isinstance(turn.step, QuestionStep)
        profile = profile_line(self.bundle, turn.profile) if turn.uses_profile else None
        return blocks.question_blocks(
            turn.step, turn.conversation_id, turn.version, can_go_back=bool(turn.state.history),
            profile_line=profile, show_help=show_help, notice=notice, practice=turn.practice,
        )

    @staticmethod
    def fallback_text(turn: Turn) -> str:
        if isinstance(turn.step, OutcomeStep):
            return turn.step.outcome.headline
        return turn.step.question.text

    # --- where a person's check lives --------------------------------------------------------
    def dm_channel(self, client: WebClient, user: str) -> str:
        with self._dm_lock:
            known = self._dm.get(user)
        if known:
            return known
        channel = client.conversations_open(users=user)["channel"]["id"]
        with self._dm_lock:
            self._dm[user] = channel
        return channel

    def own_message(self, client: WebClient, body: dict[str, Any], user: str) -> dict[str, str] | None:
        """The clicked message, if it is in the clicker's own DM with the bot (a crafted click
        naming someone else's message changes nothing)."""
        container = body.get("container") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if not channel or not ts or channel != self.dm_channel(client, user):
            return None
        return {"channel": channel, "ts": ts}

    def clicked(self, body: dict[str, Any], client: WebClient) -> Click | None:
        """Who clicked, the button's reference and the clicked message, if the click is on the
        clicker's own check message (anything else is ignored: it changes nothing)."""
        user, ref = user_of(body) or "", ref_of(body)
        message = self.own_message(client, body, user)
        if message is None or not ref.get("c"):
            return None
        return Click(user, ref, message, str(ref["c"]), self.conv_for(ref))

    def post_turn(self, client: WebClient, user: str, turn: Turn, channel: str | None = None) -> None:
        client.chat_postMessage(channel=channel or self.dm_channel(client, user),
                                text=self.fallback_text(turn), blocks=self.render(turn))

    def start_check(self, client: WebClient, user: str, practice: bool = False) -> Turn:
        conversations = self.practice if practice and self.practice is not None else self.conv
        turn = conversations.start(user)
        self.post_turn(client, user, turn)
        return turn

    def update(self, client: WebClient, message: dict[str, str], turn: Turn, show_help: bool = False,
               show_more: bool = False) -> None:
        client.chat_update(channel=message["channel"], ts=message["ts"], text=self.fallback_text(turn),
                           blocks=self.render(turn, show_help, show_more))

    def trail(self, client: WebClient, message: dict[str, str], turn: Turn, value: Any) -> None:
        """A compact record of each answer in the thread under the check message."""
        step = turn.previous
        if not isinstance(step, QuestionStep):
            return
        values = value if isinstance(value, list) else [value]
        labels = [c.label for c in step.question.choices if c.id in values]
        client.chat_postMessage(channel=message["channel"], thread_ts=message["ts"],
                                text=blocks.trail_text(step.number, step.question.text, ", ".join(labels)))

    def ephemeral(self, client: WebClient, body: dict[str, Any], user: str, text: str) -> None:
        channel = (body.get("container") or {}).get("channel_id") or self.dm_channel(client, user)
        client.chat_postEphemeral(channel=channel, user=user, text=text)

    # --- entry points -------------------------------------------------------------------------
    def ack_command(self, ack: Ack, command: dict[str, Any], desk: SlackDeskActions | None) -> None:
        """Answer the slash command within Slack's 3 seconds; the work follows lazily."""
        text = (command.get("text") or "").strip().lower()
        if text == "help":
            ack(HELP_TEXT)
        elif text == "log":
            ack(desk.log_text(command) if desk else
                "The decision log is not set up for Slack here: ask your administrator.")
        elif text.startswith("export"):
            ack("Preparing the export for the DSL channel..." if desk else
                "Exports are not set up here: ask your administrator to set CANISHARE_DSL_CHANNEL.")
        elif text == "practice":
            ack("I've started a *practice* check in your direct messages: nothing is recorded and no "
                "DSL is alerted. :mortar_board:")
        else:
            ack("I've started a check in your direct messages with me. :point_left:")

    def on_command(self, command: dict[str, Any], client: WebClient, respond: Any,
                   desk: SlackDeskActions | None) -> None:
        text = (command.get("text") or "").strip().lower()
        if text in ("help", "log"):
            return
        if text.startswith("export"):
            if desk is not None:
                desk.on_export_command(command, respond)
            return
        self.start_check(client, command["user_id"], practice=text == "practice")

    def on_message(self, event: dict[str, Any], client: WebClient, say: Any) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return
        if event.get("channel_type") != "im":
            self.on_channel_message(event, client)
            return
        user, text = event["user"], (event.get("text") or "").strip()
        if text.lower() in ("help", "?"):
            say(HELP_TEXT)
            return
        findings = scan(text)
        if findings:
            say(f":lock: Please don't type identifying details here: that looked like "
                f"{blocks.escape(describe(findings))}. Just use the buttons.")
        if text.lower() in START_WORDS:
            self.start_check(client, user)
            return
        turn = self.conv.resume_latest(user)
        if turn is None:
            self.start_check(client, user)
        else:
            self.post_turn(client, user, turn)

    def on_channel_message(self, event: dict[str, Any], client: WebClient) -> None:
        """Replies in a DSL card's thread ("Need more info"): never stored, but warned about,
        because the channel keeps them and shows them in notification previews."""
        if event.get("channel") != self.settings.dsl_channel or not event.get("thread_ts"):
            return
        findings = scan(event.get("text") or "")
        if findings:
            client.chat_postEphemeral(
                channel=event["channel"], user=event.get("user", ""), thread_ts=event["thread_ts"],
                text=f":lock: Please don't put identifying details in this channel: that looked like "
                     f"{blocks.escape(describe(findings))}. Delete the message, and describe it without "
                     "them, or call the DSL.")

    def on_home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        self.publish_home(client, event["user"])

    def publish_home(self, client: WebClient, user: str) -> None:
        recent = self.conv.recent_decisions(user, limit=5)
        labels = [decision_label(self.bundle, row) for row in recent]
        client.views_publish(user_id=user, view=blocks.home_view(recent, labels, uuid.uuid4().hex[:12]))

    def on_start_check(self, body: dict[str, Any], client: WebClient) -> None:
        """App Home's Start a check (and the apology's Start again): each button starts one check,
        however often it is pressed."""
        user = user_of(body) or ""
        nonce = ref_of(body).get("h") or (body.get("actions") or [{}])[0].get("action_ts") or ""
        practice = (body.get("actions") or [{}])[0].get("action_id") == "start_practice"
        if not self.conv.first_time(f"start:{CHANNEL}:{user}:{nonce}:{practice}"):
            return
        self.start_check(client, user, practice=practice)
        if (body.get("container") or {}).get("type") == "view":
            self.publish_home(client, user)

    # --- moving through a check ---------------------------------------------------------------
    def _act(self, body: dict[str, Any], client: WebClient, action: Any) -> None:
        click = self.clicked(body, client)
        if click is None:
            return
        try:
            turn = click.conv.act(click.user, click.conversation_id, int(click.ref.get("v", -1)), action,
                                  deliver=False)
        except (StaleAction, NothingToUndo):
            self.redraw_current(client, click)  # an old message: show where the check is now
            return
        except (UnknownConversation, ValueError):
            return  # someone else's check, or a forged value: nothing changes
        except EngineError:
            self.ephemeral(client, body, click.user, "Sorry, that answer did not fit this question. "
                                                     "Please choose again.")
            return
        try:
            self.update(client, click.message, turn)
        except (SlackClientError, OSError) as error:
            if turn.owed:  # the DSLs never wait on the person's screen: the card goes out anyway
                turn = click.conv.deliver_owed(turn)
            if not self.queue_redraw(click):
                raise  # the person gets the apology; any press on the message redraws the truth
            log.warning("redraw for %s failed (%r): queued in the outbox", click.user, error)
            return
        if isinstance(action, Answer):
            try:
                self.trail(client, click.message, turn, action.value)
            except (SlackClientError, OSError) as error:  # a note under an answer already shown: no apology
                log.warning("answer trail note not posted for %s: %r", click.user, error)
        if turn.owed:  # answered first; now the card, then the answer again with its truth
            self.update(client, click.message, click.conv.deliver_owed(turn))

    def on_answer(self, body: dict[str, Any], client: WebClient) -> None:
        ref = ref_of(body)
        if "n" in ref and "a" in ref:
            self._act(body, client, Answer(str(ref["n"]), str(ref["a"])))

    def on_multi_continue(self, body: dict[str, Any], client: WebClient) -> None:
        picked = (((body.get("state") or {}).get("values") or {}).get("multi") or {}).get(
            "multi_pick") or {}
        values = [str(o.get("value")) for o in picked.get("selected_options") or []]
        if not values:
            self.ephemeral(client, body, user_of(body) or "", "Tick at least one box, then press Continue.")
            return
        ref = ref_of(body)
        if "n" in ref:
            self._act(body, client, Answer(str(ref["n"]), values))

    def on_back(self, body: dict[str, Any], client: WebClient) -> None:
        self._act(body, client, Back())

    def on_restart(self, body: dict[str, Any], client: WebClient) -> None:
        click = self.clicked(body, client)
        if click is None:
            return
        try:
            turn = click.conv.restart(click.user, click.conversation_id, int(click.ref.get("v", -1)))
        except StaleAction:
            self.redraw_current(client, click)
            return
        except (UnknownConversation, ValueError):
            return
        if turn.conversation_id != click.conversation_id:
            self.post_turn(client, click.user, turn)  # a new check: the finished answer stays above
        else:
            self.update(client, click.message, turn)

    def on_help(self, body: dict[str, Any], client: WebClient) -> None:
        self._redraw(body, client, show_help=True)

    def on_more(self, body: dict[str, Any], client: WebClient) -> None:
        """"Why, and the law": the rest of the answer, in the same message."""
        self._redraw(body, client, show_more=True)

    def _redraw(self, body: dict[str, Any], client: WebClient, **show: bool) -> None:
        click = self.clicked(body, client)
        if click is None:
            return
        try:
            turn = click.conv.current(click.user, click.conversation_id)
        except UnknownConversation:
            return
        if str(turn.version) == str(click.ref.get("v")):
            self.update(client, click.message, turn, **show)
        else:
            self.update(client, click.message, turn)  # an old message: show where the check is now

    def queue_redraw(self, click: Click) -> bool:
        """A failed redraw is an outbox delivery like any other: retried with backoff by
        whichever process delivers, so the message ends as the check stands. False when this
        channel has no outbox (no DSL desk)."""
        desk = self.conv.desk
        if desk is None:
            return False
        payload = {"user": click.user, "conversation": click.conversation_id,
                   "practice": bool(click.ref.get("p")), **click.message}
        key = f"redraw:{click.conversation_id}:{click.message['ts']}:{uuid.uuid4().hex[:8]}"
        with desk.storage.transaction() as tx:
            delivery = tx.outbox.enqueue(key, CHANNEL, DeliveryKind.redraw, payload=payload,
                                         not_before=desk.clock.now() + timedelta(seconds=2))
        return delivery is not None

    def draw_saved(self, client: WebClient, payload: dict[str, Any]) -> None:
        """What the outbox calls to deliver a queued redraw (see `queue_redraw`)."""
        conversations = self.practice if payload.get("practice") and self.practice is not None else self.conv
        try:
            turn = conversations.current(str(payload["user"]), str(payload["conversation"]))
        except UnknownConversation:
            return
        self.update(client, {"channel": str(payload["channel"]), "ts": str(payload["ts"])}, turn)

    def redraw_current(self, client: WebClient, click: Click) -> None:
        """A press on a message that no longer shows the check's state (a redraw failed, or the
        process died between saving and redrawing): draw the saved state into it, with the
        answer's DSL status, so the person never presses a dead button. A repeat of the same
        press redraws the same thing: harmless."""
        try:
            turn = click.conv.current(click.user, click.conversation_id)
        except UnknownConversation:
            return
        self.update(client, click.message, turn)

    def on_profile_change(self, body: dict[str, Any], client: WebClient) -> None:
        click = self.clicked(body, client)
        if click is None:
            return
        try:
            turn = click.conv.forget_profile(click.user, click.conversation_id)
        except UnknownConversation:
            return
        self.update(client, click.message, turn)

    def on_talk_to_dsl(self, body: dict[str, Any], client: WebClient) -> None:
        click = self.clicked(body, client)
        if click is None:
            return
        if click.conv.practice:
            self.ephemeral(client, body, click.user, ":mortar_board: Practice: no DSL is alerted. In a "
                                                     "real check this button asks your DSLs to contact "
                                                     "you now.")
            return
        try:
            notice = click.conv.talk_to_dsl(click.user, click.conversation_id)
        except UnknownConversation:
            return
        if notice is None:
            text = ("No DSL channel is set up for this bot yet: please contact your DSL or "
                    "safeguarding lead directly. If a child is in immediate danger, call 999.")
        else:
            icon = ":telephone_receiver: " if notice.delivered else ":warning: "
            text = icon + blocks.escape(notice.text())
        self.ephemeral(client, body, click.user, text)

    # --- recording ------------------------------------------------------------------------------
    def on_record_open(self, body: dict[str, Any], client: WebClient) -> None:
        click = self.clicked(body, client)
        if click is None or click.conv.practice:
            return
        meta = self.signer.sign({"c": click.conversation_id, "ch": click.message["channel"],
                                 "ts": click.message["ts"]}, click.user)
        client.views_open(trigger_id=body["trigger_id"], view=blocks.record_modal(meta))

    def ack_record(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate and save inside the ack, so every error shows in the modal, which stays open."""
        user = user_of(body) or ""
        try:
            meta = self.signer.verify(view.get("private_metadata") or "", user)
        except TamperedMetadata:
            ack(response_action="errors", errors={
                "decision": "This form could not be checked: close it and press Record my decision again."})
            return
        try:
            form = parse_record(blocks.modal_values(view))
            self.conv.record(user, meta["c"], form, deliver=False)  # the card follows after the ack
        except RecordErrors as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except IdentifiersFound as exc:
            ack(response_action="errors", errors={
                name: f"This looks like it holds {describe(found)}. The log must not identify "
                      "anyone: describe roles and information in general terms."
                for name, found in exc.findings.items()})
            return
        except AlreadyRecorded as exc:
            ack(response_action="errors", errors={
                "decision": f"This check is already recorded as decision #{exc.decision_id}."})
            return
        except (NotFinished, UnknownConversation):
            ack(response_action="errors", errors={"decision": "This check has no answer to record yet."})
            return
        ack()

    def on_record_saved(self, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = user_of(body) or ""
        try:
            meta = self.signer.verify(view.get("private_metadata") or "", user)
        except TamperedMetadata:
            return
        decision_id = self.conv.decision_for(user, meta["c"])
        if decision_id is None:
            return  # refused inline
        self.conv.deliver_for(user, meta["c"])
        if not self.conv.first_time(f"confirm:{CHANNEL}:{decision_id}"):
            return  # another submission of the same form confirms it
        client.chat_postMessage(channel=meta["ch"], thread_ts=meta["ts"],
                                text=f":memo: Recorded as decision #{decision_id}. Keep your full "
                                     "record in your organisation's case system.")
        self.publish_home(client, user)

    # --- never silence ---------------------------------------------------------------------------
    def guard(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a listener: an error is logged with a correlation id and the person gets a short
        apology with a way on. A listener that must ack answers with the apology (a modal keeps
        itself open with it); a lazy one sends it as a direct message."""

        @functools.wraps(listener)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return listener(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every failure must reach the person
                correlation = uuid.uuid4().hex[:8]
                log.error("handler %s error [%s]: %r", listener.__name__, correlation, error, exc_info=error)
                body = kwargs.get("body") or {}
                if "ack" in kwargs:
                    self._ack_apology(kwargs["ack"], body, correlation)
                else:
                    self._dm_apology(kwargs.get("client"), user_of(body), correlation)
                return None

        return guarded

    def _ack_apology(self, ack: Ack, body: dict[str, Any], correlation: str) -> None:
        try:
            if body.get("type") == "view_submission":
                ack(response_action="errors", errors={_first_block(body): blocks.apology_text(correlation)})
            else:
                ack(blocks.apology_text(correlation))
        except Exception:  # noqa: BLE001 - ack() may already have been called
            log.error("could not answer with the apology [%s]", correlation)

    def _dm_apology(self, client: WebClient | None, user: str | None, correlation: str) -> None:
        if not user or client is None:
            return
        try:
            client.chat_postMessage(channel=self.dm_channel(client, user),
                                    text=blocks.apology_text(correlation),
                                    blocks=blocks.apology_blocks(correlation))
        except Exception:  # noqa: BLE001 - Slack itself may be the thing that failed
            log.error("could not tell %s about error [%s]", user, correlation)


def _first_block(body: dict[str, Any]) -> str:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return "decision" if "decision" in values else next(iter(values), "decision")


def ack_now(ack: Ack) -> None:
    ack()


def delivery_key(body: dict[str, Any], raw_body: str) -> str:
    """What makes a delivery the same one again: Events API retries carry the same `event_id`, a
    replayed slash command or interaction the same `trigger_id`; anything else its exact body."""
    return "slack:" + str(body.get("event_id") or body.get("trigger_id")
                          or hashlib.sha256(raw_body.encode()).hexdigest())




def once_per_delivery(conversations: Conversations, work: Callable[..., Any]) -> Callable[..., Any]:
    """A lazy listener that acts on a delivery once (checked after the ack, so a busy database
    never slows Slack's three-second answer)."""
    wanted = [a for a in inspect.getfullargspec(work).args if a != "self"]

    def lazy(body: dict[str, Any], client: Any, event: Any, command: Any, view: Any, say: Any,
             respond: Any, context: Any, request: Any) -> Any:
        if not conversations.first_time(delivery_key(body, request.raw_body)):
            return None
        available = {"body": body, "client": client, "event": event, "command": command, "view": view,
                     "say": say, "respond": respond, "context": context}
        return work(**{name: available[name] for name in wanted})

    lazy.__name__ = getattr(work, "__name__", "lazy")
    return lazy


def only_this_workspace(channel: SlackChannel):
    """The workspace check as Bolt middleware too, for Socket Mode (no HTTP gate in front)."""

    def middleware(body: dict[str, Any], next: Any) -> BoltResponse | None:
        found = foreign(body, channel.team_id, channel.enterprise_id)
        if found:
            where = ", ".join(f"{k}={v}" for k, v in found.items() if k != "user")
            channel.conv.refused(found.get("user", ""), "request", f"another workspace: {where}")
            return BoltResponse(status=403, body="")
        next()
        return None

    return middleware


def create_app(settings: Settings, conversations: Conversations, desk: DslDesk | None, *,
               practice: Conversations | None = None,
               listener_executor: Executor | None = None) -> tuple[App, SlackChannel]:
    """The Bolt app with every listener registered. Settings must hold the token and secret."""
    assert settings.slack_bot_token and settings.slack_signing_secret
    secret = settings.slack_signing_secret.get_secret_value()
    options: dict[str, Any] = {}
    if listener_executor is not None:
        options["listener_executor"] = listener_executor
    # process_before_response: the HTTP response is the ack itself, sent as soon as the small
    # ack function returns; slow work runs in lazy listeners afterwards (Bolt's recommended
    # shape under a production WSGI server).
    app = App(client=web_client(settings, retries=True), signing_secret=secret, name="canishare",
              process_before_response=True, **options)
    signer = MetadataSigner(secret)
    identity = app.client.auth_test()  # the workspace (and enterprise) the token belongs to
    team_id = settings.slack_team_id or identity.get("team_id") or ""
    enterprise_id = settings.slack_enterprise_id or identity.get("enterprise_id") or ""
    channel = SlackChannel(conversations, settings, signer, team_id, enterprise_id, practice)
    app.use(only_this_workspace(channel))
    actions = SlackDeskActions(desk, settings, signer, channel) if desk is not None else None
    notifier = desk.outbox.notifiers.get(CHANNEL) if desk is not None else None
    if notifier is not None and hasattr(notifier, "drawer"):
        notifier.drawer = channel.draw_saved  # queued redraws of people's messages
    def lazily(work: Callable[..., Any]) -> dict[str, Any]:
        return {"ack": ack_now, "lazy": [channel.guard(once_per_delivery(conversations, work))]}

    def on_command(command: dict[str, Any], client: WebClient, respond: Any) -> None:
        channel.on_command(command, client, respond, actions)

    app.command("/canishare")(
        ack=channel.guard(lambda ack, command: channel.ack_command(ack, command, actions)),
        lazy=[channel.guard(once_per_delivery(conversations, on_command))])
    app.event("message")(**lazily(channel.on_message))
    app.event("app_home_opened")(**lazily(channel.on_home_opened))
    app.action("start_check")(**lazily(channel.on_start_check))
    app.action({"action_id": re.compile(r"^answer:")})(**lazily(channel.on_answer))
    app.action("multi_pick")(ack_now)
    app.action("multi_continue")(**lazily(channel.on_multi_continue))
    app.action("back")(**lazily(channel.on_back))
    app.action("restart")(**lazily(channel.on_restart))
    app.action("help")(**lazily(channel.on_help))
    app.action("more")(**lazily(channel.on_more))
    app.action("start_practice")(**lazily(channel.on_start_check))
    app.action("profile_change")(**lazily(channel.on_profile_change))
    app.action("record_open")(**lazily(channel.on_record_open))
    app.action("talk_to_dsl")(**lazily(channel.on_talk_to_dsl))
    app.view("record_decision")(ack=channel.guard(channel.ack_record),
                                lazy=lazily(channel.on_record_saved)["lazy"])
    if actions is not None:
        actions.register(app, lazily)
    else:
        for action_id in ("dsl_claim", "dsl_resolve", "dsl_more_info"):
            app.action(action_id)(ack_now)
    app.error(on_error)
    return app, channel


def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Bolt's global handler, for errors outside a listener (our listeners are guarded). Such a
    request may not have been verified, so nobody is messaged: it is logged, and refused."""
    log.error("request error before any listener: %r", error)
    return BoltResponse(status=400, body="")
