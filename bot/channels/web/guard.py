"""Who may see a page: a signed-in DSL whose session has not been idle too long, re-checked on
every request against the chat's own DSL list (so someone removed from the DSL channel or team
loses the console within the directory's minute of caching). Forms carry a per-session CSRF
token; `next` after sign-in is only ever a path on this site.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from bot.core.clock import Clock

SESSION_KEYS = ("who", "seen", "csrf")


@dataclass(frozen=True)
class Signed:
    channel: str
    user_id: str
    name: str
    csrf: str


def safe_next(value: str | None) -> str:
    """A local path to go to after sign-in, never another site: '/x' yes; '//evil', '/\\evil',
    'https://evil', 'javascript:' and anything with a control character, no."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/queue"
    if any(ord(ch) < 32 or ch == "\\" for ch in value):
        return "/queue"
    return value


def start_session(session: dict, channel: str, user_id: str, name: str, clock: Clock) -> None:
    """A fresh session (nothing kept from before sign-in), with its own CSRF token."""
    session.clear()
    session["who"] = {"channel": channel, "user": user_id, "name": name}
    session["seen"] = clock.now().timestamp()
    session["csrf"] = secrets.token_urlsafe(32)


def current(session: dict, clock: Clock, idle_minutes: int) -> tuple[Signed | None, bool]:
    """(the signed-in person or None, whether a session just expired). Touches the session."""
    who = session.get("who")
    if not who:
        return None, False
    now = clock.now().timestamp()
    if now - float(session.get("seen", 0)) > idle_minutes * 60:
        session.clear()
        return None, True
    session["seen"] = now
    return Signed(who["channel"], who["user"], who.get("name", ""), session.get("csrf", "")), False


def csrf_ok(signed: Signed, submitted: object) -> bool:
    return bool(signed.csrf) and isinstance(submitted, str) and hmac.compare_digest(signed.csrf, submitted)
