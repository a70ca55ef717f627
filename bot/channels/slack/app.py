"""The Slack channel: a Bolt app whose listeners only translate between Slack and the
channel-neutral `Conversations` service. No flow logic lives here.

Every Web API call goes through one `WebClient` whose base URL is a setting, so the same app runs
against Slack, a local fake Slack in tests, or a trial server.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_sdk import WebClient

from bot.channels.slack import blocks
from bot.core.conversations import (
    AlreadyRecorded,
    Answer,
    Back,
    Conversations,
    IdentifiersFound,
    RecordForm,
    Restart,
    StaleAction,
    Turn,
    UnknownConversation,
)
from bot.core.engine import Engine, EngineError, NothingToUndo, OutcomeStep, QuestionStep
from bot.core.presentation import answer_label, outcome_view
from bot.core.privacy import describe, scan
from bot.flows.loader import FlowBundle
from bot.settings import Settings
from bot.storage import Storage

CHANNEL = "slack"
log = logging.getLogger("canishare.slack")

HELP_TEXT = (
    "*canishare* helps you decide whether you can share information to keep a child safe.\n"
    "• `/canishare` or any message here starts a check (or carries on your last one)\n"
    "• `restart` starts a fresh check · `help` shows this\n"
    "• Answer with the buttons. Please don't type names or case details here.\n"
    "If a child is in immediate danger, call 999 first."
)


def user_of(body: dict[str, Any]) -> str | None:
    return (body.get("user") or {}).get("id") or body.get("user_id") or (
        body.get("event") or {}).get("user")


def ref_of(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(body["actions"][0]["value"])


class SlackChannel:
    """Translates Slack requests to conversation actions and steps to Block Kit."""

    def __init__(self, bundle: FlowBundle, storage: Storage, settings: Settings):
        self.bundle, self.storage, self.settings = bundle, storage, settings
        self.conv = Conversations(Engine(bundle), storage, CHANNEL)
        self.profile_keys = bundle.manifest.profile_questions
        self.escalations: Any = None  # set by the DSL side when it is configured

    # --- profile ---------------------------------------------------------------------------
    def profile(self, user: str) -> dict[str, str]:
        return self.storage.load_profile(CHANNEL, user)

    def remember(self, user: str, turn: Turn, profile: dict[str, str]) -> None:
        answers = {k: v for k, v in turn.state.answers.items()
                   if k in self.profile_keys and isinstance(v, str)}
        if answers and answers != profile:
            self.storage.save_profile(CHANNEL, user, answers)

    def profile_line(self, user: str, turn: Turn, profile: dict[str, str] | None = None) -> str | None:
        profile = self.profile(user) if profile is None else profile
        if not profile or any(turn.state.answers.get(k) != v for k, v in profile.items()):
            return None
        return ", ".join(answer_label(self.bundle, k, v) for k, v in profile.items())

    # --- rendering ---------------------------------------------------------------------------
    def render(self, user: str, turn: Turn, show_help: bool = False,
               profile: dict[str, str] | None = None) -> list[blocks.Block]:
        notice = None
        if "flows_changed" in turn.notices:
            notice = ("The guidance was updated since you began: your answers were checked "
                      "again against it.")
        if isinstance(turn.step, OutcomeStep):
            view = outcome_view(self.bundle, turn.step.outcome)
            rendered = blocks.outcome_blocks(view, turn.conversation_id, turn.version)
            return ([blocks.context(f":information_source: {notice}")] if notice else []) + rendered
        assert isinstance(turn.step, QuestionStep)
        return blocks.question_blocks(
            turn.step, turn.conversation_id, turn.version, can_go_back=bool(turn.state.history),
            profile_line=self.profile_line(user, turn, profile), show_help=show_help, notice=notice,
        )

    @staticmethod
    def fallback_text(turn: Turn) -> str:
        if isinstance(turn.step, OutcomeStep):
            return turn.step.outcome.headline
        return turn.step.question.text

    # --- posting ---------------------------------------------------------------------------
    def dm_channel(self, client: WebClient, user: str) -> str:
        return client.conversations_open(users=user)["channel"]["id"]

    def post_turn(self, client: WebClient, user: str, turn: Turn, channel: str | None = None) -> None:
        client.chat_postMessage(channel=channel or self.dm_channel(client, user),
                                text=self.fallback_text(turn), blocks=self.render(user, turn))

    def start_check(self, client: WebClient, user: str, channel: str | None = None) -> Turn:
        turn = self.conv.start(user, known=self.profile(user) or None)
        self.post_turn(client, user, turn, channel)
        return turn

    def update(self, client: WebClient, body: dict[str, Any], user: str, turn: Turn,
               show_help: bool = False, profile: dict[str, str] | None = None) -> None:
        container = body["container"]
        client.chat_update(channel=container["channel_id"], ts=container["message_ts"],
                           text=self.fallback_text(turn),
                           blocks=self.render(user, turn, show_help, profile))

    def trail(self, client: WebClient, body: dict[str, Any], turn: Turn, value: Any) -> None:
        """A compact record of each answer in the thread under the check message."""
        step = turn.previous
        if not isinstance(step, QuestionStep):
            return
        values = value if isinstance(value, list) else [value]
        labels = [c.label for c in step.question.choices if c.id in values]
        container = body["container"]
        client.chat_postMessage(
            channel=container["channel_id"], thread_ts=container["message_ts"],
            text=blocks.trail_text(step.number, step.question.text, ", ".join(labels)),
        )

    # --- listeners: entry points -----------------------------------------------------------
    def ack_command(self, ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        """Answer the slash command within Slack's 3 seconds; the work follows lazily."""
        text = (command.get("text") or "").strip().lower()
        if text == "help":
            ack(HELP_TEXT)
        elif text == "log":
            if self.escalations is None:
                ack("The decision log is not set up for Slack here: ask your administrator.")
            else:
                ack(self.escalations.on_log_command(command, client))
        elif text.startswith("export"):
            if self.escalations is None:
                ack("Exports are not set up here: ask your administrator to set CANISHARE_DSL_CHANNEL.")
            else:
                ack(self.escalations.export_ack_text(command))
        else:
            ack("I've started a check in your direct messages with me. :point_left:")

    def on_command(self, command: dict[str, Any], client: WebClient) -> None:
        text = (command.get("text") or "").strip().lower()
        if text in ("help", "log"):
            return
        if text.startswith("export"):
            if self.escalations is not None:
                self.escalations.on_export_command(command, client)
            return
        self.start_check(client, command["user_id"])

    def on_message(self, event: dict[str, Any], client: WebClient, say: Any) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        user, text = event["user"], (event.get("text") or "").strip()
        if text.lower() in ("help", "?"):
            say(HELP_TEXT)
            return
        findings = scan(text)
        if findings:
            say(f":lock: Please don't type identifying details here: that looked like "
                f"{describe(findings)}. Just use the buttons.")
        if text.lower() in ("restart", "start", "new", "start again"):
            self.start_check(client, user, event["channel"])
            return
        turn = self.conv.resume_latest(user)
        if turn is None:
            self.start_check(client, user, event["channel"])
        else:
            self.post_turn(client, user, turn, event["channel"])

    def on_home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        self.publish_home(client, event["user"])

    def publish_home(self, client: WebClient, user: str) -> None:
        recent = self.storage.decisions(user_id=user, limit=5, newest_first=True)
        labels = {k.value: v for k, v in self.bundle.manifest.verdict_labels.items()}
        client.views_publish(user_id=user, view=blocks.home_view(recent, labels))

    def on_start_check(self, body: dict[str, Any], client: WebClient) -> None:
        self.start_check(client, user_of(body) or "")

    # --- listeners: moving through a check -------------------------------------------------
    def _act(self, body: dict[str, Any], client: WebClient, action: Any) -> None:
        user = user_of(body) or ""
        ref = ref_of(body)
        profile = self.profile(user)
        try:
            known = profile if isinstance(action, Answer) else None
            turn = self.conv.act(user, ref["c"], int(ref["v"]), action, known=known or None)
        except (StaleAction, UnknownConversation):
            return  # a double click, a retry or an old message: nothing changes
        except NothingToUndo:
            return
        except EngineError as exc:
            client.chat_postEphemeral(channel=body["container"]["channel_id"], user=user,
                                      text=f"Sorry, that answer did not fit: {exc}")
            return
        self.update(client, body, user, turn, profile=profile)
        if isinstance(action, Answer):
            self.trail(client, body, turn, action.value)
            self.remember(user, turn, profile)
            if self.escalations is not None and turn.finished:
                self.escalations.on_outcome(client, user, turn)

    def on_answer(self, body: dict[str, Any], client: WebClient) -> None:
        ref = ref_of(body)
        self._act(body, client, Answer(ref["n"], ref["a"]))

    def on_multi_continue(self, body: dict[str, Any], client: WebClient) -> None:
        picked = (((body.get("state") or {}).get("values") or {}).get("multi") or {}).get(
            "multi_pick") or {}
        values = [o["value"] for o in picked.get("selected_options") or []]
        if not values:
            client.chat_postEphemeral(channel=body["container"]["channel_id"],
                                      user=user_of(body) or "",
                                      text="Tick at least one box, then press Continue.")
            return
        self._act(body, client, Answer(ref_of(body)["n"], values))

    def on_back(self, body: dict[str, Any], client: WebClient) -> None:
        self._act(body, client, Back())

    def on_restart(self, body: dict[str, Any], client: WebClient) -> None:
        user = user_of(body) or ""
        ref = ref_of(body)
        turn = self.conv.load(user, ref["c"]) if ref.get("c") else None
        if turn is not None and isinstance(turn.step, OutcomeStep):
            self.start_check(client, user, body["container"]["channel_id"])  # keep the answer
            return
        self._act(body, client, Restart())

    def on_help(self, body: dict[str, Any], client: WebClient) -> None:
        user = user_of(body) or ""
        turn = self.conv.load(user, ref_of(body)["c"])
        if turn.version == int(ref_of(body)["v"]):
            self.update(client, body, user, turn, show_help=True)

    def on_profile_change(self, body: dict[str, Any], client: WebClient) -> None:
        user = user_of(body) or ""
        self.storage.save_profile(CHANNEL, user, {})
        turn = self.conv.start(user)
        self.update(client, body, user, turn)

    def on_talk_to_dsl(self, body: dict[str, Any], client: WebClient) -> None:
        if self.escalations is None:
            client.chat_postEphemeral(
                channel=body["container"]["channel_id"], user=user_of(body) or "",
                text="No DSL channel is set up for this bot yet: please contact your DSL or "
                     "safeguarding lead directly. If a child is in immediate danger, call 999.")
            return
        turn = self.conv.load(user_of(body) or "", ref_of(body)["c"])
        self.escalations.on_talk_to_dsl(body, client, turn)

    # --- recording ------------------------------------------------------------------------
    def on_record_open(self, body: dict[str, Any], client: WebClient) -> None:
        container = body["container"]
        client.views_open(trigger_id=body["trigger_id"], view=blocks.record_modal(
            ref_of(body)["c"], container["channel_id"], container["message_ts"]))

    def ack_record(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate and save inside the ack, so errors show inline in the modal."""
        user = user_of(body) or ""
        meta = json.loads(view.get("private_metadata") or "{}")
        values = blocks.modal_values(view)
        try:
            form = RecordForm(**{k: v or "" for k, v in values.items()})
        except ValueError:
            ack(response_action="errors", errors={"decision": "Choose shared, not shared or deferred."})
            return
        try:
            self.conv.record(user, meta["c"], form)
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
        except (StaleAction, UnknownConversation):
            ack(response_action="errors", errors={"decision": "This check has no answer to record yet."})
            return
        ack()

    def on_record_saved(self, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = user_of(body) or ""
        meta = json.loads(view.get("private_metadata") or "{}")
        decision_id = self.storage.decision_id_for(CHANNEL, user, meta.get("c", ""))
        if decision_id is None:
            return  # the submission was refused inline
        if self.escalations is not None:
            case_reference = (blocks.modal_values(view).get("case_reference") or "").strip()
            self.escalations.on_recorded(client, user, meta.get("c", ""), case_reference)
        client.chat_postMessage(channel=meta.get("ch") or self.dm_channel(client, user),
                                thread_ts=meta.get("ts"),
                                text=f":memo: Recorded as decision #{decision_id}. Keep your full "
                                     "record in your organisation's case system.")
        self.publish_home(client, user)

    def guard(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a listener: an error after ack() is logged with a correlation id and the person
        gets a short apology with a Start again button, never silence."""

        @functools.wraps(listener)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return listener(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every failure must reach the person
                if "ack" in kwargs:
                    kwargs["ack"]()
                self.report_error(error, kwargs.get("body") or {}, kwargs.get("client"))
                return None

        return guarded

    def report_error(self, error: Exception, body: dict[str, Any], client: WebClient | None) -> str:
        correlation = uuid.uuid4().hex[:8]
        log.error("handler error [%s]: %r", correlation, error, exc_info=error)
        user = user_of(body)
        if user and client is not None:
            try:
                client.chat_postMessage(channel=self.dm_channel(client, user),
                                        text=f"Sorry, something went wrong (ref {correlation}).",
                                        blocks=blocks.apology_blocks(correlation))
            except Exception:  # noqa: BLE001 - Slack itself may be the thing that failed
                log.error("could not tell %s about error [%s]", user, correlation)
        return correlation

    def on_error(self, error: Exception, body: dict[str, Any], context: Any) -> None:
        """Bolt's global handler, for errors before a listener runs (our listeners are guarded)."""
        self.report_error(error, body or {}, getattr(context, "client", None))


def ack_now(ack: Ack) -> None:
    ack()


def dedupe_events(storage: Storage):
    """Events API retries (X-Slack-Retry-Num) carry the same event_id: act on it once."""

    def middleware(body: dict[str, Any], next: Any) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not storage.first_delivery(event_id):
            return BoltResponse(status=200, body="")
        next()
        return None

    return middleware


def create_app(
    settings: Settings,
    bundle: FlowBundle,
    storage: Storage,
    *,
    listener_executor: Executor | None = None,
) -> tuple[App, SlackChannel]:
    """The Bolt app with every listener registered. Settings must hold the token and secret."""
    assert settings.slack_bot_token and settings.slack_signing_secret
    client = WebClient(token=settings.slack_bot_token.get_secret_value(),
                       base_url=settings.slack_api_base_url)
    options: dict[str, Any] = {}
    if listener_executor is not None:
        options["listener_executor"] = listener_executor
    # process_before_response: the HTTP response is the ack itself, sent as soon as the small
    # ack function returns; slow work runs in lazy listeners afterwards (Bolt's recommended
    # shape under a production WSGI server).
    app = App(client=client, signing_secret=settings.slack_signing_secret.get_secret_value(),
              name="canishare", process_before_response=True, **options)
    channel = SlackChannel(bundle, storage, settings)
    app.use(dedupe_events(storage))
    def lazily(work: Callable[..., Any]) -> dict[str, Any]:
        return {"ack": ack_now, "lazy": [channel.guard(work)]}

    app.command("/canishare")(ack=channel.guard(channel.ack_command),
                              lazy=[channel.guard(channel.on_command)])
    app.event("message")(**lazily(channel.on_message))
    app.event("app_home_opened")(**lazily(channel.on_home_opened))
    app.action("start_check")(**lazily(channel.on_start_check))
    app.action({"action_id": re.compile(r"^answer:")})(**lazily(channel.on_answer))
    app.action("multi_pick")(ack_now)
    app.action("multi_continue")(**lazily(channel.on_multi_continue))
    app.action("back")(**lazily(channel.on_back))
    app.action("restart")(**lazily(channel.on_restart))
    app.action("help")(**lazily(channel.on_help))
    app.action("profile_change")(**lazily(channel.on_profile_change))
    app.action("record_open")(**lazily(channel.on_record_open))
    app.action("talk_to_dsl")(**lazily(channel.on_talk_to_dsl))
    app.view("record_decision")(ack=channel.guard(channel.ack_record),
                                lazy=[channel.guard(channel.on_record_saved)])
    app.error(channel.on_error)
    return app, channel
