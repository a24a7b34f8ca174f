"""The web app: login, dashboard, late registrations, findings, learner, verify."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from markupsafe import escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from aggregates.errors import InvalidValue, LedgerError, UnknownEvent, UnknownLearner
from aggregates.learner import Context
from aggregates.values import parse_centre, parse_date, parse_reference, parse_timestamp
from ledger.privacy.sealing import holds_encrypted
from ledger.rules.rulesets import SEVERITIES, RuleBook
from ledger.web.charts import bar_chart, month_label
from ledger.web.reads import ReportReads, report_reads
from ledger.web.security import RateLimit, SecurityHeaders, csrf_ok, csrf_token
from ledger.web.shaping import (
    LATE_SORTS,
    Options,
    age_band,
    judge_learner,
    months,
    replay_steps,
    trail,
)
from ledger.web.sources import BundleSource, CheckpointsShown, LedgerSource, Source
from ledger.web.users import User, authenticate
from ledger.web.verifying import VerifyJob, VerifyState
from ledger.web.views import WAIT_SECONDS, View, ViewLog, ViewsFailing
from projections.late_registrations import LATE_COLUMNS, STATUSES
from projections.timeline import new_timeline, summarise

HERE = Path(__file__).parent
log = logging.getLogger("ledger.web")
Handler = Callable[[Request, User], Awaitable[Response]]
SESSION_SECONDS = 8 * 3600


@dataclass
class WebState:
    """Everything the pages share: where they read, the reports, the verify job."""

    source: Source
    reads: ReportReads  # every report read of the pages
    book: RuleBook
    verify: VerifyJob
    limit: RateLimit
    bundle_user: User | None = None  # a bundle needs no login: it holds no personal data
    views: ViewLog | None = None  # the access log's writer (a live ledger's)
    pages: RenderedPages = field(default_factory=lambda: RenderedPages())


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(month_label=month_label, statuses=STATUSES, severities=SEVERITIES)


def state(request: Request) -> WebState:
    return request.app.state.web  # type: ignore[no-any-return]


def render(request: Request, name: str, user: User | None, status: int = 200,
           **context: Any) -> Response:
    """A page: the template with the user, the CSRF token and the source's name."""
    web = state(request)
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf": csrf_token(request.session), "source": web.source,
        "bundle": web.bundle_user is not None, **context}, status_code=status)


class RenderedPages:
    """Report pages rendered once per what they show: the same query by the same role on
    the same judgement (its digest and position), the same checks shown. Each is kept with
    marks where the user's name and the session's CSRF token go, put in as it is sent (no
    other part of a report page is the user's own); the least recently used let go first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.name_mark = f"u{secrets.token_hex(16)}"
        self.csrf_mark = f"c{secrets.token_hex(16)}"
        self._kept: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, request: Request, key: tuple[Any, ...], user: User, name: str,
             **context: Any) -> Response:
        with self._lock:
            html = self._kept.get(key)
            if html is not None:
                self._kept.move_to_end(key)
        if html is None:
            marked = User(self.name_mark, user.role)
            response = templates.TemplateResponse(request, name, {
                "user": marked, "csrf": self.csrf_mark, "source": state(request).source,
                "bundle": state(request).bundle_user is not None, **context})
            html = bytes(response.body).decode("utf-8")
            with self._lock:
                self._kept[key] = html
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        shown = html.replace(self.name_mark, str(escape(user.name))).replace(
            self.csrf_mark, str(escape(csrf_token(request.session))))
        return HTMLResponse(shown)


def page_key(request: Request, user: User, *shown: Any) -> tuple[Any, ...]:
    """What a rendered report page depends on: the path, the query, the role and what the
    page shows of the ledger (hashable values)."""
    return (request.url.path, tuple(sorted(request.query_params.multi_items())), user.role,
            state(request).bundle_user is not None, *shown)


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page that needs a login; bad input is a 400 page, an unknown learner a 404."""

    async def endpoint(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        try:
            return await handler(request, user)
        except (UnknownLearner, UnknownEvent) as error:
            return render(request, "error.html", user, 404, title="Not found",
                          message=str(error))
        except ViewsFailing as error:
            return render(request, "error.html", user, 503, title="Personal data unavailable",
                          message=str(error))
        except LedgerError as error:
            return render(request, "error.html", user, 400, title="Bad request",
                          message=str(error))

    return endpoint


def current_user(request: Request) -> User | None:
    web = state(request)
    if web.bundle_user is not None:
        return web.bundle_user
    found = request.session.get("user")
    if isinstance(found, dict) and {"name", "role"} <= found.keys():
        return User(str(found["name"]), str(found["role"]))
    return None


# ----- login ----------------------------------------------------------------------------------

async def login_form(request: Request) -> Response:
    if current_user(request) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", None)


async def login(request: Request) -> Response:
    web = state(request)
    form = await request.form()
    if not csrf_ok(request.session, form.get("csrf")):
        return render(request, "login.html", None, 403,
                      message="The form expired; please try again.")
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    client = request.client.host if request.client else "unknown"
    keys = (f"client:{client}", f"user:{name}")
    if web.limit.blocked(*keys):
        return render(request, "login.html", None, 429,
                      message="Too many failed logins; wait a few minutes and try again.")
    source = web.source
    engine = source.app.engine if isinstance(source, LedgerSource) else None
    user = authenticate(engine, name, password) if engine is not None else None
    if user is None:
        web.limit.failed(*keys)
        log.info("failed login from %s", client)
        return render(request, "login.html", None, 401,
                      message="That name and password do not match a ledger user.")
    request.session.clear()
    request.session.update({"user": {"name": user.name, "role": user.role},
                            "csrf": secrets.token_urlsafe(32)})
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    if csrf_ok(request.session, form.get("csrf")):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


# ----- reports --------------------------------------------------------------------------------

@page
async def dashboard_page(request: Request, user: User) -> Response:
    options = Options.parse(request.query_params)
    read = await run_in_threadpool(state(request).reads.summary, options)
    summary = read.counts
    span = months(summary["late"], summary["overdue"], summary["findings"])
    late_chart = bar_chart("Late and overdue registrations by month of deadline", span, [
        ("late", "late", summary["late"]), ("overdue", "overdue", summary["overdue"])])
    findings_chart = bar_chart("Findings by month", span, [
        ("findings", "finding", summary["findings"])])
    checkpoints = await run_in_threadpool(_checkpoints, state(request).source)
    verify = state(request).verify.state
    key = page_key(request, user, read.basis, checkpoints,
                   json.dumps(verify.as_dict(), sort_keys=True, default=str), id(read.counts))
    return state(request).pages.page(
        request, key, user, "dashboard.html", options=options, judged=read.basis,
        summary=summary, late_chart=late_chart, findings_chart=findings_chart, verify=verify,
        checkpoints=checkpoints)


def _checkpoints(source: Source) -> CheckpointsShown:
    """The latest checkpoint, or, when the log cannot be read, why (shown, not hidden)."""
    try:
        return source.checkpoints()
    except LedgerError as error:
        return CheckpointsShown(None, f"The checkpoint log cannot be read: {error}")


@page
async def late_page(request: Request, user: User) -> Response:
    options = Options.parse(request.query_params)
    read = await run_in_threadpool(state(request).reads.late_rows, options)
    key = page_key(request, user, read.basis, read.total, id(read.rows[0]) if read.rows else 0)
    return state(request).pages.page(
        request, key, user, "late.html", options=options, judged=read.basis, rows=read.rows,
        total=read.total, pages=read.pages, sorts=LATE_SORTS)


@page
async def late_download(request: Request, user: User) -> Response:
    options = Options.parse(request.query_params)
    read = await run_in_threadpool(state(request).reads.late_rows, options, False)
    judged = read.basis
    rows = [row.as_row() for row in read.rows]
    fmt = request.path_params["fmt"]
    stamp = f"late-registrations-{options.on.isoformat()}"
    if fmt == "json":
        document = {"report": "late-registrations", "on": options.on.isoformat(),
                    "as_at": options.as_at.isoformat() if options.as_at else None,
                    "ledger_digest": judged.digest, "rows": rows}
        return Response(json.dumps(document, default=_iso, indent=2), media_type=(
            "application/json"), headers=_attachment(f"{stamp}.json"))
    out = io.StringIO()
    out.write(f"# Late registrations judged on {options.on.isoformat()}"
              + (f", as recorded by {options.as_at.isoformat()}" if options.as_at else "")
              + "\n")
    out.write(f"# Ledger digest: {judged.digest} (check with `ledger verify --digest "
              f"{judged.digest}`)\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LATE_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else _iso(row[c]) for c in LATE_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"{stamp}.csv"))


@page
async def findings_page(request: Request, user: User) -> Response:
    options = Options.parse(request.query_params)
    read = await run_in_threadpool(state(request).reads.findings, options)
    book = state(request).book
    return render(request, "findings.html", user, options=options, judged=read.basis,
                  findings=read.rows, total=read.total, pages=read.pages,
                  clause_text=lambda f: _clause_text(book, f))


def _clause_text(book: RuleBook, found: Any) -> str:
    """The words of the source that support the rule (its `quote` in the rule set, else its
    description), with the rule set's source."""
    rules = [version.rules.get(found.rule) for version in book.versions.get(found.awarding_body, [])
             if version.version == found.rule_version]
    rule = next((rule for rule in rules if rule is not None), None)
    if rule is None:
        rule = book.common.get(found.rule)  # the ledger's own rules, for every awarding body
    if rule is None:
        return ""
    words = f"“{rule.quote}”" if rule.quote else rule.description
    return f"{words} ({rule.source})" if words and rule.source else words


# ----- learner --------------------------------------------------------------------------------

@page
async def learner_page(request: Request, user: User) -> Response:
    return await run_in_threadpool(_one_learner, request, user, False)


@page
async def replay_page(request: Request, user: User) -> Response:
    return await run_in_threadpool(_one_learner, request, user, True)


def _one_learner(request: Request, user: User, replaying: bool) -> Response:
    """A learner's page, after which the server keeps none of the keys it opened."""
    try:
        return _learner_page(request, user, replaying)
    finally:
        source = state(request).source
        if isinstance(source, LedgerSource):
            source.forget_keys()


def _learner_page(request: Request, user: User, replaying: bool) -> Response:
    web = state(request)
    reference = parse_reference(request.path_params["reference"])
    query = request.query_params
    centre = parse_centre(query["centre"]) if query.get("centre") else None
    as_at = parse_timestamp(query["as_at"], "as_at") if query.get("as_at") else None
    on = parse_date(query["on"], "on") if query.get("on") else date.today()
    personal = user.sees_personal_data and web.source.personal_data
    centre, events = web.source.learner_events(reference, centre, personal)
    judged = judge_learner(events, web.book, on, as_at)  # this learner alone, whatever N is
    rows = trail(events, as_at, web.source.stamps([position for position, _ in events]))
    steps = replay_steps(events, as_at)
    status = steps[-1]["state"] if steps else summarise(new_timeline(""))
    details = _details(rows) if personal else {}
    shown = personal and not holds_encrypted(details)
    band = None
    if not personal and isinstance(web.source, LedgerSource):
        born = web.source.app.find_learner(reference, centre).detail("date_of_birth")
        band = age_band(born if isinstance(born, date) else None, date.today())
    if shown and web.views is not None:
        # before the page is sent: handed to the access log's writer, which raises here if
        # the view is refused (personal data is never shown without its view recorded or
        # queued; see ledger/web/views.py)
        web.views.record(View(user.name, reference, centre, user.role,
                              "replay" if replaying else "learner"))
    context: dict[str, Any] = {
        "reference": reference, "centre": centre, "as_at": as_at, "rows": rows,
        "now": status, "details": details, "age_band": band, "personal": personal,
        "steps": steps, "judged": judged,
    }
    if replaying:
        step_text = query.get("step") or str(len(steps))
        if not step_text.isdigit() or not 1 <= int(step_text) <= max(1, len(steps)):
            raise _bad_step(step_text, len(steps))
        context["step"] = int(step_text)
        return render(request, "replay.html", user, **context)
    return render(request, "learner.html", user, **context)


def _bad_step(text: str, count: int) -> LedgerError:
    return InvalidValue("step", f"{text!r} is not a step from 1 to {count}")


def _details(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The learner's details as the trail shows them: recorded, then live amendments."""
    details: dict[str, Any] = {}
    for row in rows:
        if row["event"] == "Recorded":
            details = dict(row["details"].get("details") or {})
            if row["details"].get("uln"):
                details["uln"] = row["details"]["uln"]
        elif row["event"] == "DetailsAmended" and row["status"] == "recorded":
            field, _, new = row["before_after"]
            details[field] = new
    return details


def view_writer(source: LedgerSource) -> Callable[[View], object]:
    """What the access log's writer does with a view: one event on the learner saying who
    saw their data; the server then keeps none of the keys it opened."""

    def write(view: View) -> object:
        try:
            return source.app.record_view(Context(actor=view.actor, source="web"),
                                          view.reference, view.centre, view.role, view.page)
        finally:
            source.forget_keys()

    return write


# ----- verify ---------------------------------------------------------------------------------

@page
async def verify_page(request: Request, user: User) -> Response:
    return render(request, "verify.html", user, job=state(request).verify.state)


@page
async def verify_start(request: Request, user: User) -> Response:
    form = await request.form()
    if not csrf_ok(request.session, form.get("csrf")):
        return render(request, "error.html", user, 403, title="Form expired",
                      message="The form expired; reload the page and try again.")
    state(request).verify.start()
    return RedirectResponse("/verify", status_code=303)


@page
async def verify_status(request: Request, user: User) -> Response:
    return JSONResponse(state(request).verify.state.as_dict())


# ----- errors ---------------------------------------------------------------------------------

async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    title = "Not found" if status == 404 else "Request refused"
    return render(request, "error.html", current_user(request), status, title=title,
                  message="There is no such page." if status == 404 else str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("error on a page: %s", type(exc).__name__)
    return templates.TemplateResponse(request, "error.html", {
        "user": None, "title": "Something went wrong", "bundle": False,
        "message": "The page could not be shown; the error was logged."}, status_code=500)


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return value


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


def create_app(source: Source, book: RuleBook, *, secret: str | None = None,
               secure_cookies: bool = True, record_views: bool = True,
               view_wait: float = WAIT_SECONDS) -> Starlette:
    """The web app over a source: a live ledger (login needed) or a verified bundle. A live
    ledger's views of personal data are recorded by a writer of their own (`views.ViewLog`,
    a page waits `view_wait` seconds at most), flushed when the app shuts down."""
    is_bundle = not isinstance(source, LedgerSource)
    views = (ViewLog(view_writer(source), view_wait)
             if record_views and isinstance(source, LedgerSource) else None)
    web = WebState(source, report_reads(source, book), book, VerifyJob(source), RateLimit(),
                   User("bundle", "eqa") if is_bundle else None, views)
    routes = [
        Route("/", dashboard_page),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/late", late_page),
        Route("/late.{fmt:str}", late_download),
        Route("/findings", findings_page),
        Route("/learners/{reference}", learner_page),
        Route("/learners/{reference}/replay", replay_page),
        Route("/verify", verify_page, methods=["GET"]),
        Route("/verify", verify_start, methods=["POST"]),
        Route("/verify/status", verify_status),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                   session_cookie="ledger_session", max_age=SESSION_SECONDS,
                   same_site="strict", https_only=secure_cookies),
    ]
    if isinstance(source, BundleSource):  # verified as it was opened
        web.verify.state = VerifyState("done", source.opened, source.opened, source.head(),
                                       source.verify_result.as_dict())
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={
        HTTPException: not_found, 404: not_found, Exception: server_error},
        lifespan=_serving(views, web.reads))
    app.state.web = web
    return app


def _serving(views: ViewLog | None, reads: ReportReads) -> Callable[[Starlette], Any]:
    """The app's lifespan: as it starts, what the first pages show is read on a thread of
    its own (each server process's, `ledger serve --workers N`); at shutdown, every queued
    view is written before it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        prepare = getattr(reads, "prepare", None)
        if prepare is not None:
            threading.Thread(target=_prepared, args=(prepare,), daemon=True,
                             name="ledger-web-prepare").start()
        try:
            yield
        finally:
            if views is not None:
                await run_in_threadpool(views.close)

    return lifespan


def _prepared(prepare: Callable[[], None]) -> None:
    try:
        prepare()
    except Exception:  # the first page that asks reads it again, and shows its error
        log.exception("reading the first pages as the server started failed")


def bundle_failure_app(message: str) -> Starlette:
    """A tampered bundle: every page says the bundle failed to verify, and nothing else."""

    async def failure(request: Request) -> Response:
        return templates.TemplateResponse(request, "bundle_failed.html", {
            "message": message, "user": None, "bundle": True}, status_code=422)

    return Starlette(routes=[
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        Route("/{path:path}", failure)], middleware=[Middleware(SecurityHeaders)])

