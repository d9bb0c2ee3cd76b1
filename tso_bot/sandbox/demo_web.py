"""The demo's HTTP side: the page, its JSON API and its live event stream (SSE).

Mounted in the same aiohttp application as the Bot API emulator: the page is just one more
client of the emulator's person API. Routes:

    GET  /                              the page (static files under /static/)
    GET  /api/state                     everything the page shows, at once
    GET  /api/events                    server-sent events: messages, edits, mails, clock
    POST /api/personas/{key}/send       {"text": ...} typed by a persona
    POST /api/personas/{key}/press      {"message_id": n, "data": ...} a button pressed
    POST /api/personas/{key}/invite     the persona opens their invitation link
    POST /api/clock                     {"at": ISO} | {"local": "YYYY-MM-DDTHH:MM"} |
                                        {"advance_minutes": n}
    POST /api/reset                     back to the seeded school
    GET  /api/mails/{id}                one e-mail, text and HTML parts
    GET  /api/mails/{id}/html           its HTML part alone, for a sandboxed iframe
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from tso_bot.sandbox.demo import JSON, DemoError, DemoServer
from tso_bot.sandbox.emulator import MAX_TEXT
from tso_bot.sandbox.mailcatcher import CaughtMail

STATIC = Path(__file__).with_name("static")
DEMO_KEY: web.AppKey[DemoServer] = web.AppKey("demo", DemoServer)
KEEP_ALIVE = 15.0  # seconds between SSE comments, so proxies and browsers keep the stream
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

# The page loads nothing from elsewhere and runs no inline script: a strict policy costs
# nothing and keeps the bot's HTML (already rebuilt from entities) from doing anything.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
# An e-mail's HTML is shown in a sandboxed iframe: its own styles, nothing else.
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def demo_of(request: web.Request) -> DemoServer:
    return request.app[DEMO_KEY]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Local use only, and no request forged by another web site.

    Another site open in the visitor's browser can send simple POSTs to 127.0.0.1, and DNS
    rebinding can make it read answers: the Host must be local, and every POST of the API
    must be JSON (which a cross-site page cannot send without a CORS preflight)."""
    if request.url.host not in LOCAL_HOSTS:
        return _error(403, "hôte non autorisé")
    if not request.path.startswith("/api/"):
        return await handler(request)
    if request.method == "POST" and request.content_type != "application/json":
        return _error(415, "JSON attendu")
    # The event stream stays open across a reset (a browser's EventSource does not retry
    # after an HTTP error); everything else waits for the school to be ready.
    if not demo_of(request).ready and request.path != "/api/events":
        return _error(503, "La démo démarre ou se réinitialise, un instant…")
    try:
        return await handler(request)
    except DemoError as exc:
        return _error(409, str(exc))


async def _body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="JSON invalide") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="objet JSON attendu")
    return body


def _persona_key(request: web.Request) -> str:
    key = request.match_info["key"]
    if key not in demo_of(request).personas:
        raise web.HTTPNotFound(text="personnage inconnu")
    return key


# -- the page -------------------------------------------------------------------------------


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC / "index.html",
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
    )


# -- state and actions ----------------------------------------------------------------------


async def get_state(request: web.Request) -> web.Response:
    return web.json_response(demo_of(request).state())


async def send(request: web.Request) -> web.Response:
    key = _persona_key(request)
    text = (await _body(request)).get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(400, "Message vide.")
    if len(text) > MAX_TEXT:
        return _error(400, f"Message trop long ({MAX_TEXT} caractères au plus).")
    await demo_of(request).send(key, text)
    return web.json_response({"ok": True})


async def press(request: web.Request) -> web.Response:
    key = _persona_key(request)
    body = await _body(request)
    message_id, data = body.get("message_id"), body.get("data")
    if not isinstance(message_id, int) or not isinstance(data, str):
        return _error(400, "message_id et data attendus.")
    await demo_of(request).press(key, message_id, data)
    return web.json_response({"ok": True})


async def invite(request: web.Request) -> web.Response:
    await demo_of(request).open_invite(_persona_key(request))
    return web.json_response({"ok": True})


def _clock_target(demo: DemoServer, body: JSON) -> datetime | timedelta:
    """Where the visitor wants the clock: an instant, a local time, or minutes ahead."""
    try:
        if isinstance(body.get("at"), str):
            moment = datetime.fromisoformat(body["at"])
            if moment.tzinfo is None:
                raise ValueError("naive")
            return moment
        if isinstance(body.get("local"), str):
            return datetime.fromisoformat(body["local"]).replace(tzinfo=demo.calendar.timezone)
        minutes = body.get("advance_minutes")
        if isinstance(minutes, int) and not isinstance(minutes, bool):
            return timedelta(minutes=minutes)
    except ValueError:
        pass
    raise DemoError("Date invalide.")


async def move_clock(request: web.Request) -> web.Response:
    demo = demo_of(request)
    target = _clock_target(demo, await _body(request))
    if isinstance(target, timedelta):
        clock = await demo.advance_clock(target)
    else:
        clock = await demo.move_clock(target)
    return web.json_response(clock)


async def reset(request: web.Request) -> web.Response:
    demo = demo_of(request)
    await demo.reset()
    return web.json_response(demo.state())


# -- e-mails --------------------------------------------------------------------------------


def _mail(request: web.Request) -> CaughtMail:
    demo = demo_of(request)
    try:
        number = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="e-mail inconnu") from None
    found = next((m for m in demo.mail.mails if m.id == number), None)
    if found is None:
        raise web.HTTPNotFound(text="e-mail inconnu")
    return found


async def mail_detail(request: web.Request) -> web.Response:
    mail = _mail(request)
    detail = demo_of(request).mail_summary(mail)
    detail.update({"from": mail.mail_from, "text": mail.text, "html": mail.html})
    return web.json_response(detail)


async def mail_html(request: web.Request) -> web.Response:
    return web.Response(
        text=_mail(request).html,
        content_type="text/html",
        headers={"Content-Security-Policy": MAIL_CSP, "Cache-Control": "no-store"},
    )


# -- live events ----------------------------------------------------------------------------


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one `data:` line of JSON per change, until the demo stops."""
    demo = demo_of(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue = demo.hub.subscribe()
    try:
        await response.write(b"retry: 1000\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEP_ALIVE)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:  # the demo is stopping
                break
            payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            await response.write(f"data: {payload}\n\n".encode())
    except ConnectionResetError:
        pass  # the page was closed
    finally:
        demo.hub.unsubscribe(queue)
    return response


def build_app(demo: DemoServer) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[DEMO_KEY] = demo
    demo.emulator.add_routes(app)
    app.router.add_get("/", page)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_get("/api/state", get_state)
    app.router.add_get("/api/events", events)
    app.router.add_post("/api/personas/{key}/send", send)
    app.router.add_post("/api/personas/{key}/press", press)
    app.router.add_post("/api/personas/{key}/invite", invite)
    app.router.add_post("/api/clock", move_clock)
    app.router.add_post("/api/reset", reset)
    app.router.add_get("/api/mails/{id}", mail_detail)
    app.router.add_get("/api/mails/{id}/html", mail_html)
    return app
