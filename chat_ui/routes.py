"""The chat page at /chat and its JSON/SSE API: sign in, ask, stream the answer.

Routes here only authenticate and hand the question to the agent or the offline planner; tools
are run (authorized and audited) by the runner. The API key check is injected by the
composition root (mcp_server/app.py), which owns authentication.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from chat_ui import events
from chat_ui.agent import Agent
from chat_ui.caller import CHANNEL, Caller
from chat_ui.export_files import MEDIA_TYPES, render
from chat_ui.exports import FORMATS, AnswerContext, offer, offer_views
from chat_ui.offline.planner import Planner
from chat_ui.present import banner, views_for
from chat_ui.proposals import CANCELLED, Proposal
from chat_ui.sessions import ChatSession, SessionStore
from db.demo.personas import PERSONAS, PERSONAS_BY_KEY
from db.engine import read_transaction
from domain.errors import DomainError
from policies.principal import Principal, load_principal
from tools.auth_guard import AuthThrottled
from tools.catalog import load_catalog
from tools.questions import STAFF_QUESTIONS
from tools.runner import Deps, ToolCallError, record_export, record_refusal, run_tool, visible_tools

log = logging.getLogger("sis.chat")

KeyAuthenticator = Callable[[Session, str], Principal]
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# Everything the page loads comes from this server; nothing runs inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SignIn(BaseModel):
    """Sign in with an API key, or a demo persona in demo mode."""

    api_key: str | None = Field(default=None, max_length=200, description="An SIS API key (sis_live_...).")
    persona: str | None = Field(default=None, max_length=60, description="A demo persona key (demo mode only).")


class Ask(BaseModel):
    """One question; mode "offline" skips the language model."""

    question: str = Field(min_length=1, max_length=2000)
    mode: Literal["auto", "offline"] = "auto"


def _static(name: str) -> str:
    """A file of chat_ui/static as text."""
    return resources.files("chat_ui").joinpath("static", name).read_text(encoding="utf-8")


def _token(authorization: str | None) -> str | None:
    """The bearer token of an Authorization header, if any."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _questions(caller: Caller) -> list[dict[str, str]]:
    """The staff questions this caller can ask, naming one of their own campuses."""
    catalog = load_catalog()
    names = {c.name for c in caller.campuses}
    usable = []
    for question in STAFF_QUESTIONS:
        if not all(t in catalog and t in caller.tool_names for t in question.tools):
            continue
        text = question.text
        place = re.search(r"\bat ([A-Z][\w ]*?)(\?|$)", text)
        if place and place.group(1) not in names and caller.default_campus:
            text = text[: place.start(1)] + caller.default_campus + text[place.end(1) :]
        usable.append({"name": question.name, "title": question.title, "text": text})
    return usable


def build_chat_router(
    deps: Deps,
    *,
    demo_mode: bool,
    authenticate_key: KeyAuthenticator | None = None,
    store: SessionStore | None = None,
) -> APIRouter:
    """The /chat page and API; API-key sign-in needs `authenticate_key`, the persona picker needs demo mode.

    The model and its bounds are `deps.chat`, fixed when the composition root built `deps`.
    """
    router = APIRouter(tags=["chat"])
    sessions = store if store is not None else SessionStore()  # an empty store is falsy (__len__)

    def principal_for(method: str, credential: str) -> Principal:
        """Authenticate again from the stored credential (revocations apply at once)."""
        with read_transaction(deps.session_factory) as db:
            if method == "api_key":
                if authenticate_key is None:
                    raise HTTPException(401, "API key sign-in is not available on this server")
                return authenticate_key(db, credential)
            return load_principal(db, email=credential)

    def caller_for(principal: Principal, whoami: dict[str, Any]) -> Caller:
        """The caller with the tools they may use now."""
        return Caller(principal, whoami, frozenset(s.name for s in visible_tools(deps, principal)))

    def describe(session: ChatSession, *, with_token: bool) -> dict[str, Any]:
        """What the page shows for a session: banner, questions, assistant."""
        chat = deps.chat
        body: dict[str, Any] = {
            "banner": banner(session.caller.whoami),
            "questions": _questions(session.caller),
            "assistant": {
                "mode": "anthropic" if chat.online else "offline",
                "model": chat.model if chat.online else None,
            },
            "method": session.method,
        }
        if with_token:
            body["token"] = session.token
        return body

    def require(authorization: str | None) -> ChatSession:
        """The session of the Authorization header, or 401."""
        session = sessions.get(_token(authorization))
        if session is None:
            raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Bearer"})
        return session

    def reauthenticate(session: ChatSession) -> Principal:
        """The session's principal as of now; a revoked key or removed user ends the session (401)."""
        try:
            return principal_for(session.method, session.credential)
        except DomainError as err:
            sessions.drop(session.token)
            raise HTTPException(401, f"sign in again: {err.message}") from None

    def refuse(proposal: Proposal, code: str, reason: str) -> int | None:
        """Record an unconfirmed proposal in the query log as a refusal, as the person it was proposed to."""
        return record_refusal(
            deps, proposal.principal, proposal.tool, proposal.arguments, reason=reason, channel=CHANNEL, code=code
        )

    def settle() -> None:
        """Record the proposals that expired or whose session ended since the last request."""
        for proposal, (code, reason) in sessions.proposals.settle():
            refuse(proposal, code, reason)

    def pending(session: ChatSession, proposal_id: str) -> Proposal:
        """The session's live proposal `proposal_id`, or 404 (used, cancelled, expired, or another chat's)."""
        settle()
        proposal = sessions.proposals.take(session.token, proposal_id)
        settle()  # an expired one taken just now is recorded before the refusal is answered
        if proposal is None:
            raise HTTPException(
                404,
                "no pending proposal with this id in this chat: it was already answered, it expired, or it is not yours",
            )
        return proposal

    def context(session: ChatSession, question: str) -> AnswerContext:
        """Where a table of this answer came from, as its downloads state it."""
        return AnswerContext(question, session.caller.whoami, deps.clock(), dt.datetime.now().astimezone())

    @router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        """The chat page (static HTML; everything it loads is served from /chat/static)."""
        return HTMLResponse(_static("index.html"), headers=SECURITY_HEADERS)

    @router.get("/chat/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        """The page's script and style sheet."""
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return Response(
            _static(name), media_type=STATIC_FILES[name], headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        )

    @router.get("/chat/api/config")
    def config() -> dict[str, Any]:
        """How to sign in here: the persona picker (demo mode only) and which assistant answers."""
        chat = deps.chat
        personas = [
            {"key": p.key, "name": p.display_name, "role": p.role, "email": p.email, "description": p.description}
            for p in PERSONAS
        ]
        return {
            "demo_mode": demo_mode,
            "api_key_sign_in": authenticate_key is not None,
            "personas": personas if demo_mode else [],
            "assistant": {
                "mode": "anthropic" if chat.online else "offline",
                "model": chat.model if chat.online else None,
            },
        }

    @router.post("/chat/api/session")
    def sign_in(body: SignIn, request: Request) -> dict[str, Any]:
        """Exchange an API key (or, in demo mode, a persona) for a chat session token."""
        if body.api_key and body.persona:
            raise HTTPException(400, "give either an API key or a persona, not both")
        if body.persona:
            if not demo_mode:
                raise HTTPException(403, "the persona picker is only available in demo mode")
            persona = PERSONAS_BY_KEY.get(body.persona)
            if persona is None:
                raise HTTPException(404, f"no demo persona {body.persona!r}")
            method, credential = "persona", persona.email
        elif body.api_key:
            if authenticate_key is None:
                raise HTTPException(401, "API key sign-in is not available on this server")
            method, credential = "api_key", body.api_key.strip()
        else:
            raise HTTPException(400, "give an API key" + (" or pick a demo persona" if demo_mode else ""))
        address = request.client.host if request.client else None
        try:
            principal = deps.auth_guard.check(
                deps.session_factory,
                face="chat",
                address=address,
                presented=credential if method == "api_key" else None,
                authenticate=lambda: principal_for(method, credential),
            )
        except AuthThrottled as err:
            raise HTTPException(429, err.message, headers={"Retry-After": str(err.retry_after)}) from None
        except DomainError as err:
            raise HTTPException(401, err.message) from None
        try:
            whoami = run_tool(deps, principal, "whoami", {}, channel=CHANNEL).output.model_dump(mode="json")
        except ToolCallError as err:
            raise HTTPException(err.status, err.message) from None
        session = sessions.create(method, credential, caller_for(principal, whoami))
        return describe(session, with_token=True)

    @router.get("/chat/api/session")
    def current(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        """The signed-in session's banner and questions (after a page reload)."""
        return describe(require(authorization), with_token=False)

    @router.delete("/chat/api/session", status_code=204)
    def sign_out(authorization: Annotated[str | None, Header()] = None) -> Response:
        """End the chat session."""
        sessions.drop(_token(authorization))
        return Response(status_code=204)

    @router.post("/chat/api/ask")
    def ask(body: Ask, authorization: Annotated[str | None, Header()] = None) -> StreamingResponse:
        """Answer one question as Server-Sent Events: mode, text, tool_call, tool_result, ..., done."""
        session = require(authorization)
        principal = reauthenticate(session)
        settle()
        caller = caller_for(principal, session.caller.whoami)
        session.caller = caller
        chat = deps.chat

        def stream() -> Iterator[str]:
            """The answer as SSE text, one question at a time per session."""
            if not session.busy.acquire(blocking=False):
                yield events.error("Still answering your previous question; ask again when it is done.").sse()
                yield events.done().sse()
                return
            try:
                if chat.online and body.mode == "auto":
                    yield events.mode("anthropic", f"Claude ({chat.model})").sse()
                    answerer: Agent | Planner = Agent(
                        deps, caller, session.memory, chat, proposals=sessions.proposals, session_token=session.token
                    )
                else:
                    yield events.mode("offline", "Offline assistant").sse()
                    answerer = Planner(deps, caller, session.memory)
                asked = context(session, body.question.strip())
                for event in answerer.answer(asked.question):
                    yield offer(sessions.exports, session.token, event, asked).sse()
            except Exception:
                log.exception("chat answer failed")
                yield events.error("Something went wrong while answering; the failure was logged.").sse()
            finally:
                session.busy.release()
            yield events.done().sse()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @router.post("/chat/api/proposals/{proposal_id}/confirm")
    def confirm(proposal_id: str, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        """Run a write the assistant proposed, as the signed-in person, once: the person's click, not the model's."""
        session = require(authorization)
        principal = reauthenticate(session)
        proposal = pending(session, proposal_id)
        if principal.user_id != proposal.principal.user_id:
            seq = refuse(proposal, "not_confirmed", "not confirmed by the user it was proposed to")
            raise HTTPException(403, f"this change was proposed to someone else (audit #{seq})")
        try:
            result = run_tool(deps, principal, proposal.tool, proposal.arguments, channel=CHANNEL)
        except ToolCallError as err:
            return JSONResponse({"status": "failed", "detail": err.message, "error": err.to_dict()}, err.status)
        body = {
            "status": "confirmed",
            "tool": proposal.tool,
            "audit_seq": result.audit_seq,
            "views": offer_views(
                sessions.exports,
                session.token,
                proposal.tool,
                result.audit_seq,
                views_for(proposal.tool, result.output),
                context(session, f"Confirmed change: {proposal.tool}"),
            ),
        }
        return JSONResponse(body)

    @router.post("/chat/api/proposals/{proposal_id}/cancel")
    def cancel(proposal_id: str, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        """Discard a write the assistant proposed; the query log records it as refused."""
        session = require(authorization)
        reauthenticate(session)
        proposal = pending(session, proposal_id)
        code, reason = CANCELLED
        return {"status": "cancelled", "tool": proposal.tool, "audit_seq": refuse(proposal, code, reason)}

    @router.get(
        "/chat/api/exports/{export_id}.{extension}",
        response_class=Response,
        responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
    )
    def download(export_id: str, extension: str, authorization: Annotated[str | None, Header()] = None) -> Response:
        """A table this chat session showed, as CSV or Excel (docs/chat-exports.md); recorded in the query log."""
        session = require(authorization)
        principal = reauthenticate(session)
        table = sessions.exports.get(session.token, export_id)
        if table is None or extension not in FORMATS:
            raise HTTPException(404, "no table with this id in this chat: it is another chat's, or too old to keep")
        try:
            seq = record_export(
                deps,
                principal,
                table.tool,
                table.logged(extension),
                channel=CHANNEL,
                student_ids=table.student_ids,
                row_count=len(table.rows),
            )
        except ToolCallError as err:
            raise HTTPException(err.status, err.message) from None
        return Response(
            render(table, extension, seq),
            media_type=MEDIA_TYPES[extension],
            headers={
                "Content-Disposition": f'attachment; filename="{table.stem}.{extension}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "X-Audit-Seq": str(seq),
            },
        )

    return router
