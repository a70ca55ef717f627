"""The Teams channel's handlers on the teams.py app: every activity is read once (`Incoming`),
handed to the personal chat (`chat.py`) or the DSL desk's side (`desk_actions.py`) on a worker
thread, and what they return is answered and sent here.

Three promises are kept in this file:
- every invoke gets a non-empty answer within Teams' budget (about 5 s): work that takes longer
  goes on, the person sees "still working", and the card is written into its message when done;
- an internal error is logged with a correlation id and answered with a short apology and a way
  on, never silence (teams.py would answer 500, and Teams would retry);
- a card answered in place is also written into its message (PUT), so every device shows it and
  old buttons are gone; writes are ordered, so a slow earlier one never overwrites a later one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from microsoft_teams.api import Attachment, MessageActivityInput
from microsoft_teams.apps import App

from bot.channels.teams import cards
from bot.channels.teams.chat import CHANNEL, Reply, TeamsChat
from bot.channels.teams.config import TeamsConfig
from bot.channels.teams.contacts import Contact, ContactBook, TeamAddress
from bot.channels.teams.desk_actions import TeamsDeskActions, Upload
from bot.channels.teams.incoming import Incoming, from_activity
from bot.channels.teams.notifier import TeamsNotifier
from bot.channels.teams.server import card_message, invoke_message
from bot.services import Services

log = logging.getLogger("canishare.teams")
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
Work = Callable[[Incoming], Reply]
NO_ACCOUNT = ("canishare needs you signed in to Teams with your work account (guests and anonymous "
              "users cannot use it): please ask your DSL directly.")


OTHER_TENANT = "canishare serves one organisation, and this request came from another: nothing was done."


def apology_text(correlation: str) -> str:
    return (f"Sorry, something went wrong on our side (reference {correlation}). Your answers so far "
            "are saved. If you are worried about a child, talk to your DSL now; if a child is in "
            "immediate danger, call 999.")


def _interim(inc: Incoming) -> dict[str, Any]:
    """The answer when the work takes longer than Teams waits."""
    if inc.name == "adaptiveCard/action":
        return invoke_message("Still working on it: this card will update in a moment.")
    return cards.dialog_closed("Still working on it: the result will follow in this chat.")


def _apology_answer(inc: Incoming, correlation: str) -> dict[str, Any]:
    if inc.name == "adaptiveCard/action":
        return invoke_message(apology_text(correlation))
    return cards.dialog_closed(apology_text(correlation))


class TeamsBot:
    def __init__(self, chat: TeamsChat, desk_actions: TeamsDeskActions | None, contacts: ContactBook,
                 config: TeamsConfig):
        self.chat, self.desk_actions, self.contacts, self.config = chat, desk_actions, contacts, config
        self.budget = config.invoke_budget_seconds
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = threading.Condition()
        self._writes: dict[str, int] = {}  # message id -> sequence of the latest card for it
        self._locks: dict[str, asyncio.Lock] = {}
        self._sequence = 0

    def register(self, app: App) -> None:
        app.on_message(self.on_message)
        app.on_invoke(self.on_invoke)
        app.on_installation_update(self.on_installation_update)
        app.on_conversation_update(self.on_conversation_update)

    # --- background work, counted so tests and shutdown can wait for it ---------------------------------
    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        with self._idle:
            task = asyncio.ensure_future(work)
            self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            with self._idle:
                self._tasks.discard(finished)
                self._idle.notify_all()
            if not finished.cancelled() and finished.exception() is not None:
                error = finished.exception()
                log.error("background Teams work failed: %r", error, exc_info=error)

        task.add_done_callback(done)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block (from another thread) until no background sends are left."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._tasks, timeout)

    # --- running the synchronous core -----------------------------------------------------------------
    def foreign(self, inc: Incoming) -> bool:
        """An activity from another tenant (or none): refused and audited, like Slack's other
        workspaces. The token proves Microsoft sent it, not that it is this organisation's."""
        if inc.tenant_id and inc.tenant_id.lower() == self.config.tenant_id.lower():
            return False
        try:
            self.chat.conv.refused(inc.user, "request", f"another tenant: {inc.tenant_id or 'none'} "
                                                        f"({inc.type} {inc.name or inc.verb})".strip())
        except Exception:  # noqa: BLE001 - refusing must not depend on the audit
            log.exception("could not audit a request from another tenant")
        log.warning("refused a Teams %s from another tenant (%s)", inc.type, inc.tenant_id or "none")
        return True

    def _guarded(self, work: Work, inc: Incoming) -> Reply:
        try:
            if self.foreign(inc):  # nothing is stored or sent for another organisation
                return Reply(answer=invoke_message(OTHER_TENANT) if inc.type == "invoke" else None)
            if not inc.user and inc.type in ("message", "invoke"):
                return Reply(answer=invoke_message(NO_ACCOUNT) if inc.type == "invoke" else None,
                             send=[card_message(cards.text_card(NO_ACCOUNT), NO_ACCOUNT)])
            self._remember(inc)
            return work(inc)
        except Exception as error:  # noqa: BLE001 - every failure must reach the person
            correlation = uuid.uuid4().hex[:8]
            log.error("Teams %s %s error [%s]: %r", inc.type, inc.name or inc.verb, correlation, error,
                      exc_info=error)
            apology = card_message(cards.apology_card(correlation), "Sorry, something went wrong")
            answer = _apology_answer(inc, correlation) if inc.type == "invoke" else None
            return Reply(answer=answer, send=[apology])

    async def _run(self, work: Work, inc: Incoming, ctx: Any) -> Reply:
        """Run `work` on a worker thread; past the budget, answer for now and finish later."""
        task = asyncio.ensure_future(asyncio.to_thread(self._guarded, work, inc))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.budget)
        except TimeoutError:
            log.warning("Teams %s took longer than %.1f s: answered for now, finishing in the background",
                        inc.name or inc.type, self.budget)
            self._background(self._finish_late(task, inc, ctx))
            return Reply(answer=_interim(inc))

    async def _finish_late(self, task: asyncio.Future[Reply], inc: Incoming, ctx: Any) -> None:
        reply = await task
        if reply.late:
            reply.send.insert(0, card_message(cards.text_card(reply.late), reply.late[:100]))
        await self._deliver(reply, inc, ctx)

    async def _deliver(self, reply: Reply, inc: Incoming, ctx: Any) -> None:
        """Write the replaced card into its message for every device, then send what is new;
        then what the answer owes (the escalation card), and the card again with its truth."""
        if reply.card is not None and inc.reply_to_id and inc.personal:
            self._write_card(reply.card, inc, ctx)
        if reply.after is not None:
            self._background(self._after(reply.after, inc, ctx))
        for activity in reply.send:
            try:
                await ctx.send(activity)
            except Exception as exc:  # noqa: BLE001 - the person already has the answer to their click
                log.warning("could not send a message in %s: %r", inc.conversation_id, exc)

    async def _after(self, work: Callable[[], cards.Card], inc: Incoming, ctx: Any) -> None:
        try:
            card = await asyncio.to_thread(work)
        except Exception:  # noqa: BLE001 - the outbox still owes it; the next press shows the truth
            log.exception("Teams: delivering after an answer failed")
            return
        if inc.reply_to_id and inc.personal:
            self._write_card(card, inc, ctx)

    def _write_card(self, card: cards.Card, inc: Incoming, ctx: Any) -> None:
        """PUT the card into its message, one write at a time per message; a write that a later
        click has overtaken is skipped, so the message always ends as the latest card."""
        message = inc.reply_to_id
        self._sequence += 1
        sequence = self._writes[message] = self._sequence
        lock = self._locks.setdefault(message, asyncio.Lock())

        async def write() -> None:
            async with lock:
                if self._writes.get(message) != sequence:
                    return
                try:
                    await ctx.api.conversations.update_activity(inc.conversation_id, message,
                                                                card_message(card))
                except Exception as exc:  # noqa: BLE001 - the clicker's card is already replaced
                    log.warning("could not write the card into message %s: %r", message, exc)
                finally:
                    if self._writes.get(message) == sequence:
                        del self._writes[message]
                        self._locks.pop(message, None)

        self._background(write())

    # --- who is who ----------------------------------------------------------------------------------
    def _remember(self, inc: Incoming) -> None:
        """Store how to reach the sender (their personal chat, at first contact) and the team."""
        if inc.user:
            personal = inc.personal and inc.conversation_id
            self.contacts.remember(Contact(
                inc.user, user_id=inc.user_id, name=inc.user_name,
                conversation_id=inc.conversation_id if personal else "",
                service_url=inc.service_url if personal else ""))
        if inc.team_id and inc.service_url:
            self.contacts.remember_team(TeamAddress(inc.team_id, inc.service_url, inc.team_name))

    # --- activities -------------------------------------------------------------------------------------
    def _message(self, inc: Incoming) -> Reply:
        if not self.chat.conv.first_time(f"teams:activity:{inc.activity_id}"):
            return Reply()  # Teams delivered this message again
        word = (inc.text.split() or [""])[0].lower()
        if inc.personal:
            if word == "export" and self.desk_actions is not None:
                return self.desk_actions.export(inc)
            return self.chat.on_message(inc)
        if self.desk_actions is not None:
            return self.desk_actions.on_channel_message(inc)
        return self.chat.welcome()

    async def on_message(self, ctx: Any) -> None:
        inc = from_activity(ctx.activity)
        task = asyncio.to_thread(self._guarded, self._message, inc)
        await self._deliver(await task, inc, ctx)

    def _route(self, inc: Incoming) -> Work | None:
        desk = self.desk_actions
        if desk is not None and desk.handles(inc) and inc.name != "fileConsent/invoke":
            return {"adaptiveCard/action": desk.on_action, "task/fetch": desk.open_dialog,
                    "task/submit": desk.submit}[inc.name]
        if inc.name == "adaptiveCard/action":
            return self.chat.on_action
        if inc.name == "task/fetch" and inc.dialog_id == cards.Verb.RECORD_OPEN:
            return self.chat.open_record
        if inc.name == "task/submit" and inc.submitted == cards.Verb.RECORD_SUBMIT:
            return self.chat.submit_record
        if inc.name in ("task/fetch", "task/submit"):
            return lambda _: Reply(answer=cards.dialog_closed("That form is out of date: start again."))
        return None

    async def on_invoke(self, ctx: Any) -> Any:
        inc = from_activity(ctx.activity)
        if inc.name == "fileConsent/invoke" and self.desk_actions is not None and not self.foreign(inc):
            return await self._file_consent(inc, ctx)
        work = self._route(inc)
        if work is None:
            return {"status": 200}  # an invoke canishare does not use (a tab, a message extension)
        reply = await self._run(work, inc, ctx)
        self._background(self._deliver(reply, inc, ctx))
        return reply.answer or invoke_message("Done.")

    async def on_installation_update(self, ctx: Any) -> None:
        inc = from_activity(ctx.activity)
        await asyncio.to_thread(self._guarded, lambda _: Reply(), inc)
        if inc.action == "add" and inc.personal:
            await self._deliver(self.chat.welcome(), inc, ctx)
        elif inc.team_id:
            log.info("canishare %s in team %s", "added" if inc.action == "add" else "removed", inc.team_id)

    async def on_conversation_update(self, ctx: Any) -> None:
        """A team install shows up here too: remember the team's service URL."""
        inc = from_activity(ctx.activity)
        await asyncio.to_thread(self._guarded, lambda _: Reply(), inc)

    # --- the export file ---------------------------------------------------------------------------------
    async def _file_consent(self, inc: Incoming, ctx: Any) -> Any:
        assert self.desk_actions is not None
        desk = self.desk_actions
        try:
            reply, upload = await asyncio.wait_for(asyncio.to_thread(desk.file_consent, inc), self.budget)
        except Exception as error:  # noqa: BLE001 - answer, log, and tell the DSL
            correlation = uuid.uuid4().hex[:8]
            log.error("Teams file consent error [%s]: %r", correlation, error, exc_info=error)
            reply, upload = Reply(send=[card_message(cards.apology_card(correlation))]), None
        self._background(self._deliver(reply, inc, ctx))
        if upload is not None:
            self._background(self._upload(upload, inc, ctx))
        return {"status": 200}

    async def _upload(self, upload: Upload, inc: Incoming, ctx: Any) -> None:
        """Write the file into the DSL's OneDrive upload session (no bot token: the session URL
        is its own authority), then show it in their chat."""
        size = len(upload.content)
        try:
            async with httpx.AsyncClient(timeout=60) as client:
                response = await client.put(upload.url, content=upload.content, headers={
                    "Content-Range": f"bytes 0-{size - 1}/{size}"})
                response.raise_for_status()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            await asyncio.to_thread(self.desk_actions.file_saved, inc, upload, error)  # type: ignore[union-attr]
            await self._deliver(Reply(send=[card_message(cards.text_card(
                "The file could not be saved to your OneDrive. Ask for it again with export."))]), inc, ctx)
            return
        await asyncio.to_thread(self.desk_actions.file_saved, inc, upload)  # type: ignore[union-attr]
        info = Attachment(content_type=FILE_INFO, content_url=upload.content_url, name=upload.name,
                          content={"uniqueId": upload.unique_id, "fileType": upload.file_type})
        await self._deliver(Reply(send=[MessageActivityInput(attachments=[info], summary=upload.name)]),
                            inc, ctx)


def build_bot(services: Services, config: TeamsConfig) -> TeamsBot:
    """The Teams channel over the composition root's parts: its conversations, and the desk with
    the Teams notifier when the DSL team is configured."""
    chat = TeamsChat(services.conversations(CHANNEL))
    notifier = (services.desk_channels.get(CHANNEL) or (None, None))[0]
    if services.desk is not None and isinstance(notifier, TeamsNotifier):
        actions = TeamsDeskActions(services.desk, notifier, chat, services.storage)
        return TeamsBot(chat, actions, notifier.contacts, config)
    return TeamsBot(chat, None, ContactBook(services.storage), config)
