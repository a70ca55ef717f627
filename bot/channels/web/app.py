"""The DSL web console: a Starlette (ASGI) app rendered on the server with Jinja2 templates.
It only translates: who may enter is the DSL desk's decision, actions are the desk's own claim,
need-more-info and resolve (so the Slack or Teams card and the requester's notice go through the
same outbox), and every figure comes from `bot/storage/console.py`.

Every page but sign-in needs a DSL session; every POST needs the session's CSRF token; every
sign-in, refusal, view of the log, action and export is written to the audit trail.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.channels.web import guard
from bot.channels.web.config import WebConfig
from bot.channels.web.identity import NotOurs, claims_options, identity, oidc_client
from bot.channels.web.trends import hbars, parse_term, recent_terms, stacked_bars, term_trends
from bot.core.presentation import answer_label, localised, questions_asking, verdict_label
from bot.dsl import export
from bot.dsl.export import parse_day
from bot.services import Services
from bot.storage import LogFilter

log = logging.getLogger("canishare.web")
HERE = Path(__file__).resolve().parent
# What the log page shows: a subset of the export's columns, never a field the export lacks
# (organisation type is read from `answers`, which the export carries whole).
LOG_COLUMNS = ["id", "created_at", "channel", "jurisdiction", "flow_id", "outcome_id", "verdict", "dsl_alert",
               "decision", "case_reference", "answers"]
FILTERS = ("verdict", "outcome_id", "jurisdiction", "org_type", "channel", "decision")
DECISIONS = {"shared": "Shared", "not_shared": "Not shared", "deferred": "Deferred"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
REFUSAL = ("This console is for your organisation's Designated Safeguarding Leads. You are signed in "
           "to your organisation's account, but you are not on its DSL list, so nothing here is "
           "shown to you. If you need a DSL, use Talk to a DSL now in the chat, or contact your DSL.")


class Console:
    def __init__(self, services: Services, config: WebConfig):
        self.services, self.config = services, config
        self.clock, self.storage = services.clock, services.storage
        self.tz = ZoneInfo(services.settings.timezone)
        self.oidc = oidc_client(config)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]))
        self.templates.globals.update(decisions=DECISIONS)

    # --- rendering ----------------------------------------------------------------------------
    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        with self.storage.transaction() as tx:
            tx.audit.add(actor, action, target, detail)

    def local(self, moment: str | datetime | None) -> str:
        if not moment:
            return ""
        value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        return value.astimezone(self.tz).strftime("%a %d %b %Y %H:%M")

    # --- the gate -------------------------------------------------------------------------------
    def signed_in(self, request: Request) -> guard.Signed | Response:
        """The DSL on this session, or the response that sends them away."""
        signed, expired = guard.current(request.session, self.clock, self.config.idle_minutes)
        if signed is None:
            if request.method != "GET":
                return self.page("refused.html", 403, who=None, title="Signed out",
                                 message="Your session has ended. Sign in again to continue.")
            query = {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
            if expired:
                query["expired"] = "1"
            return RedirectResponse(f"/signin?{urlencode(query)}", status_code=303)
        desk = self.services.desk
        if desk is None or not desk.is_dsl(signed.channel, signed.user_id):
            self.audit(signed.user_id, "refused", "web console", f"not a DSL ({signed.channel})")
            request.session.clear()
            return self.page("refused.html", 403, who=None, title="Not a DSL", message=REFUSAL)
        return signed

    def dsl(self, handler: Callable[..., Response]) -> Callable[[Request], Awaitable[Response]]:
        """A page or action for DSLs only; POSTs also need the session's CSRF token."""

        async def endpoint(request: Request) -> Response:
            signed = await run_in_threadpool(self.signed_in, request)
            if isinstance(signed, Response):
                return signed  # before reading any body: nothing from a stranger is parsed
            form = (await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)
                    if request.method == "POST" else FormData())
            if request.method == "POST" and not guard.csrf_ok(signed, form.get("csrf")):
                await run_in_threadpool(self.audit, signed.user_id, "refused", request.url.path,
                                        "web form without a valid CSRF token")
                return self.page("refused.html", 403, who=signed, title="Form expired",
                                 message="That form had expired or did not come from this console. "
                                         "Nothing was changed. Go back, reload the page and try again.")
            return await run_in_threadpool(handler, request, signed, form)

        return endpoint

    # --- sign-in and out --------------------------------------------------------------------------
    async def signin(self, request: Request) -> Response:
        return self.page("signin.html", who=None, title="Sign in", provider=self.config.provider,
                         next=guard.safe_next(request.query_params.get("next")),
                         expired=request.query_params.get("expired") == "1")

    async def auth_start(self, request: Request) -> Response:
        next_path = guard.safe_next(request.query_params.get("next"))
        for key in list(request.session):
            if key not in guard.SESSION_KEYS and not key.startswith("_state_"):
                request.session.pop(key)
        request.session["next"] = next_path
        return await self.oidc.authorize_redirect(request, self.config.redirect_uri)

    async def auth_callback(self, request: Request) -> Response:
        try:
            token = await self.oidc.authorize_access_token(
                request, claims_options=claims_options(self.config), leeway=60)
            person = identity(self.config, dict(token.get("userinfo") or {}))
        except NotOurs as exc:
            await run_in_threadpool(self.audit, "web", "refused", "web sign-in", f"from {exc}")
            return self.page("refused.html", 403, who=None, title="Not your organisation",
                             message="That account is not one of your organisation's. Sign in with "
                                     "your work account.")
        except Exception as exc:  # noqa: BLE001 - Authlib raises several kinds: all are a refusal
            log.warning("web sign-in refused: %s", type(exc).__name__)
            await run_in_threadpool(self.audit, "web", "refused", "web sign-in", type(exc).__name__)
            return self.page("refused.html", 400, who=None, title="Sign-in failed",
                             message="Sign-in could not be completed (it may have been used already, "
                                     "or taken too long). Start again from the sign-in page.")
        next_path = guard.safe_next(request.session.get("next"))
        desk = self.services.desk
        allowed = await run_in_threadpool(
            lambda: bool(person.user_id) and desk is not None and desk.is_dsl(person.channel, person.user_id))
        if not allowed:
            request.session.clear()
            await run_in_threadpool(self.audit, person.user_id or "web", "refused", "web console",
                                    f"sign-in: not a DSL ({person.channel})")
            return self.page("refused.html", 403, who=None, title="Not a DSL", message=REFUSAL)
        guard.start_session(request.session, person.channel, person.user_id, person.name, self.clock)
        await run_in_threadpool(self.audit, person.user_id, "web sign-in", "web console", person.channel)
        return RedirectResponse(next_path, status_code=303)

    def signout(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        request.session.clear()
        self.audit(who.user_id, "web sign-out", "web console")
        return self.page("refused.html", who=None, title="Signed out", message="You have signed out.")

    # --- the queue ---------------------------------------------------------------------------------
    def queue(self, request: Request, who: guard.Signed, form: FormData, notice: str = "",
              status: int = 200) -> Response:
        state = request.query_params.get("status", "open")
        state = state if state in ("open", "claimed", "resolved") else "open"
        with self.storage.read() as tx:
            rows = tx.console.queue(who.channel, state)
            counts = tx.console.queue_counts(who.channel)
            cards = tx.console.delivery_states([r.id for r in rows])
        now = self.clock.now()
        desk = self.services.desk
        assert desk is not None
        items = [{"e": r, "what": desk.card_view(r).what, "age": _age(now - r.created_at),
                  "raised": self.local(r.created_at), "claimed": self.local(r.claimed_at),
                  "resolved": self.local(r.resolved_at), "card": _card_state(r.card_state.value,
                                                                             cards.get(r.id))}
                 for r in rows]
        return self.page("queue.html", status, who=who, title="Escalations", state=state, items=items,
                         counts=counts, notice=notice, active="queue")

    def act(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        desk = self.services.desk
        assert desk is not None
        try:
            escalation_id = int(request.path_params["id"])
        except ValueError:
            return PlainTextResponse("Not found", 404)
        action = request.path_params["action"]
        if action == "claim":
            result = desk.claim(who.channel, who.user_id, escalation_id)
            notice = "Claimed: the card and the person who raised it have been updated." if result.changed \
                else (result.message or "Already claimed.")
        elif action == "more-info":
            text = str(form.get("version", ""))
            version = int(text) if text.isdigit() and len(text) < 9 else 0
            result = desk.more_info(who.channel, who.user_id, escalation_id, version)
            notice = "The person who raised it has been asked to get in touch." if result.changed \
                else (result.message or "Already asked.")
        elif action == "resolve":
            result = desk.resolve(who.channel, who.user_id, escalation_id, str(form.get("note", "")))
            notice = ("Resolved: the person who raised it has been told it was looked at and closed."
                      if result.ok else "Not resolved: " + "; ".join(result.errors.values()))
        else:
            return PlainTextResponse("Not found", 404)
        return self.queue(request, who, form, notice=notice, status=200 if result.ok else 409)

    # --- the decision log -----------------------------------------------------------------------------
    def log_filter(self, request: Request) -> tuple[LogFilter, dict[str, str]]:
        params = request.query_params
        today = self.clock.now().astimezone(self.tz).date()
        raw = {"from": params.get("from", ""), "to": params.get("to", "")}
        zone = self.services.settings.timezone
        start = _day(raw["from"], zone) or parse_day((today - timedelta(days=30)).isoformat(), zone)
        last = _day(raw["to"], zone) or parse_day(today.isoformat(), zone)
        end = last + timedelta(days=1)
        raw = {"from": start.date().isoformat(), "to": (end - timedelta(days=1)).date().isoformat()}
        values = {name: params.get(name, "")[:80] for name in FILTERS}
        raw.update(values)
        return LogFilter(start=start, end=end, **values), raw

    def log_page(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        filters, raw = self.log_filter(request)
        before = None
        after = request.query_params.get("before", "")
        stamp, _, number = after.rpartition("~")
        if stamp and number.isdigit():
            before = (stamp, int(number))
        bundle = self.services.bundle
        self.audit(who.user_id, "log", "decisions", f"web: {_describe(raw)}")
        with self.storage.read() as tx:  # the read holds no write lock
            rows = tx.console.log_page(LOG_COLUMNS, filters, before=before)
        shown = [{"id": r["id"], "when": self.local(r["created_at"]), "channel": r["channel"],
                  "nation": answer_label(bundle, "jurisdiction", r["jurisdiction"] or "") if r["jurisdiction"]
                  else "", "verdict": verdict_label(bundle, r["verdict"] or "",
                                                    {"jurisdiction": r["jurisdiction"]}),
                  "outcome": _outcome_title(bundle, r["outcome_id"], r["flow_id"], r["jurisdiction"]),
                  "org_type": _org_type(bundle, r["answers"]),
                  "decision": DECISIONS.get(r["decision"] or "", r["decision"] or ""),
                  "case_reference": r["case_reference"] or ""} for r in rows]
        more = ""
        if len(rows) == 50:
            query = {k: v for k, v in raw.items() if v}
            query["before"] = f"{rows[-1]['created_at']}~{rows[-1]['id']}"
            more = "/log?" + urlencode(query)
        menus = self.menus()
        export_query = urlencode({k: v for k, v in raw.items() if v})
        return self.page("log.html", who=who, title="Decision log", rows=shown, raw=raw, menus=menus,
                         more=more, export_query=export_query, active="log")

    @cached_property
    def _menus(self) -> dict[str, list[tuple[str, str]]]:
        """The filters' choices, from the flows (never a scan of the log)."""
        bundle = self.services.bundle
        nation = next(questions_asking(bundle, "jurisdiction"), None)
        org = next(questions_asking(bundle, "org_type"), None)
        outcomes: dict[str, str] = {}
        for flow_id, node_id in bundle.all_nodes():
            node = bundle.node(flow_id, node_id) if flow_id else bundle.shared_outcome(node_id)
            if getattr(node, "headline", None) and node_id not in outcomes:
                outcomes[node_id] = _outcome_title(bundle, node_id, flow_id)
        return {
            "verdict": [(v.value, verdict_label(bundle, v.value)) for v in bundle.manifest.verdict_labels],
            "outcome_id": sorted(outcomes.items(), key=lambda kv: kv[1]),
            "jurisdiction": [(c.id, c.label) for c in nation.choices] if nation else [],
            "org_type": [(c.id, c.label) for c in org.choices] if org else [],
            "channel": [("slack", "Slack"), ("teams", "Teams"), ("terminal", "Terminal")],
            "decision": list(DECISIONS.items()),
        }

    def menus(self) -> dict[str, list[tuple[str, str]]]:
        return self._menus

    def log_export(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        filters, raw = self.log_filter(request)
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "xlsx"):
            return PlainTextResponse("format: csv or xlsx", 400)
        buffer = io.BytesIO()
        with self.storage.transaction() as tx:
            tx.audit.add(who.user_id, "export", "decisions", f"web {fmt}: {_describe(raw)}")
        with self.storage.read() as tx:
            export.write_rows(tx.console.log_rows(export.COLUMNS, filters), fmt, buffer,  # type: ignore[arg-type]
                              filters.start, filters.end)
        name = f"canishare-decisions-{raw['from']}-to-{raw['to']}.{fmt}"
        media = ("text/csv; charset=utf-8" if fmt == "csv" else
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(buffer.getvalue(), media_type=media, headers={
            **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    # --- trends and the governor report -----------------------------------------------------------------
    def trends_context(self, request: Request) -> dict[str, Any]:
        today = self.clock.now().astimezone(self.tz).date()
        term = parse_term(request.query_params.get("term", ""), today, self.tz)
        reasons = request.query_params.get("reasons") == "1"
        data = term_trends(self.storage, term, self.clock.now(), reasons=reasons)
        bundle = self.services.bundle
        labels = {v: verdict_label(bundle, v) for v in data.verdicts}
        concern = [(answer_label(bundle, "concern_type", k), n) for k, n in data.concern_types]
        not_shared = [(verdict_label(bundle, k), n) for k, n in data.not_shared]
        week = lambda w: datetime.fromisoformat(w).strftime("%d %b")  # noqa: E731
        times = [("Time to claim", data.to_claim), ("Time to resolve", data.to_resolve)]
        return dict(
            term=term, terms=recent_terms(today, self.tz), data=data, labels=labels, reasons=reasons,
            concern=concern, not_shared=not_shared, times=times, week=week,
            weekly_chart=stacked_bars("weekly", f"Decisions per week by verdict, {term.title}", data.weeks,
                                      data.verdicts, data.per_week, labels, week),
            urgency_chart=hbars("urgency", f"Escalations by urgency, {term.title}",
                                [(k.title(), v) for k, v in sorted(data.escalations_by_urgency.items())]),
            times_chart=hbars("times", "Minutes to claim and to resolve (median and 90th percentile)",
                              [(f"{name} ({which})", value) for name, pair in times
                               for which, value in zip(("median", "90th percentile"), pair, strict=True)
                               if value is not None], " min"),
            concern_chart=hbars("concerns", f"Most common concern types, {term.title}", concern),
            not_shared_chart=hbars("notshared", f"Not shared, by verdict, {term.title}", not_shared))

    def trends(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        context = self.trends_context(request)
        self.audit(who.user_id, "trends", "decisions", f"web: {context['term'].key}")
        return self.page("trends.html", who=who, title="Trends", active="trends", show_reasons=True,
                         **context)

    def report(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        context = self.trends_context(request)
        self.audit(who.user_id, "report", "decisions", f"web governor report: {context['term'].key}")
        return self.page("report.html", who=who, title=f"Governor report, {context['term'].title}",
                         active="report", printed=self.local(self.clock.now()), **context)

    # --- log integrity ---------------------------------------------------------------------------------
    def integrity(self, request: Request, who: guard.Signed, form: FormData) -> Response:
        report = None
        if request.method == "POST":
            with self.storage.read() as tx:
                latest = tx.checkpoints.latest()
                report = tx.verify(latest)
            self.audit(who.user_id, "verify", "log", "ok" if report.ok else "broken")
        with self.storage.read() as tx:
            latest = tx.checkpoints.latest()
            last = tx.audit.latest_for("log", "verify")
        return self.page("integrity.html", who=who, title="Log integrity", active="integrity",
                         report=report, checkpoint=latest, last=last,
                         last_at=self.local(last["at"]) if last else "",
                         checkpoint_at=self.local(latest.at) if latest else "",
                         keyed=self.storage.keyring.current is not None)


def _day(text: str, zone: str) -> datetime | None:
    try:
        return parse_day(text, zone) if text else None
    except ValueError:
        return None


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


def _card_state(state: str, latest: str | None) -> str:
    if state == "fallback":
        return "Not posted: DSLs messaged directly"
    if state == "pending":
        return "Not yet posted (retrying)"
    return "Card up to date" if latest in (None, "delivered") else "Card update pending"


def _describe(raw: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in raw.items() if v)


def _outcome_title(bundle: Any, outcome_id: str | None, flow_id: str | None = None,
                   nation: str | None = None) -> str:
    """An outcome's headline, in the words of the nation it was logged for (never its id, unless
    the flows no longer have it)."""
    if not outcome_id:
        return ""
    node = bundle.node(flow_id or "", outcome_id) if flow_id else None
    if node is None:
        found = (bundle.node(f, outcome_id) for f in bundle.flows)
        node = bundle.shared_outcome(outcome_id) or next((n for n in found if n is not None), None)
    headline = getattr(node, "headline", None)
    if not headline:
        return outcome_id
    return localised(bundle, str(headline), {"jurisdiction": nation or ""})[:120]


def _org_type(bundle: Any, answers: str | None) -> str:
    import json

    try:
        value = json.loads(answers or "{}").get("org_type")
    except (ValueError, AttributeError):
        return ""
    return answer_label(bundle, "org_type", value) if isinstance(value, str) else ""


def build_app(services: Services, config: WebConfig) -> Starlette:
    console = Console(services, config)
    dsl = console.dsl
    routes = [
        Route("/", lambda request: RedirectResponse("/queue", status_code=303)),
        Route("/healthz", lambda request: PlainTextResponse("ok")),
        Route("/signin", console.signin),
        Route("/auth/start", console.auth_start),
        Route("/auth/callback", console.auth_callback),
        Route("/signout", dsl(console.signout), methods=["POST"]),
        Route("/queue", dsl(console.queue)),
        Route("/queue/{id}/{action}", dsl(console.act), methods=["POST"]),
        Route("/log", dsl(console.log_page)),
        Route("/log/export", dsl(console.log_export)),
        Route("/trends", dsl(console.trends)),
        Route("/report", dsl(console.report)),
        Route("/integrity", dsl(console.integrity), methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=config.session_secret,
                             session_cookie="canishare_console", max_age=12 * 3600, same_site="lax",
                             https_only=True)]  # Secure always (browsers accept it on localhost)
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = console
    return app
