"""A local, strict emulator of the Telegram Bot API, for tests and the offline demo.

The real python-telegram-bot talks to it over HTTP on 127.0.0.1 (``base_url``), so the whole
stack (serialisation, error handling, polling, webhooks) is exercised exactly as in
production. Tests and the demo page then act as people through the async "person" API
(:meth:`Emulator.send_text`, :meth:`Emulator.press`, ...) and read the resulting chats
(:meth:`Emulator.messages`).

Strictness is the point: every rule Telegram enforces and that a bot can plausibly break
(message length, HTML subset, callback_data size, "message is not modified", users who never
started or blocked the bot, flood limits, ...) answers the same error Telegram would, so
these bugs are caught offline. Only the methods the project is allowed to use exist; any
other call is a 404 and is recorded in :attr:`Emulator.unsupported_calls`.

Everything runs in one asyncio event loop; nothing here is thread-safe, on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import struct
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web
from telegram.ext import Application

from tso_bot.sandbox.telegram_html import (
    Entity,
    FormattedText,
    HtmlParseError,
    entities_from_api,
    entities_to_html,
    parse_html,
    trim_formatted,
    utf16_len,
)

__all__ = [
    "ACTION_METHODS",
    "SEND_EDIT_METHODS",
    "SUPPORTED_METHODS",
    "Button",
    "CallbackAnswer",
    "Emulator",
    "FakeUser",
    "Faults",
    "FileInfo",
    "MessageRecord",
    "Stats",
    "polling_application",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]

#: The only Bot API methods the project may use (anything else is a 404 + recorded).
SUPPORTED_METHODS: tuple[str, ...] = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "setMyCommands",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "sendDocument",
    "sendPhoto",
    "deleteMessage",
)
#: Methods subject to flood control (Telegram's "30 messages per second" family).
SEND_EDIT_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)
#: Methods that act on a chat; default target of the fault switches.
ACTION_METHODS = SEND_EDIT_METHODS | {"answerCallbackQuery", "deleteMessage"}

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_CALLBACK_ANSWER = 200
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
FIRST_USER_ID = 1000

_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_WEBHOOK_HOSTS = {"127.0.0.1", "localhost"}
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
# A 1x1 transparent PNG, used when a simulated person sends a photo without giving one.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


# ============================================================================================
# Errors and request parameters
# ============================================================================================


class ApiError(Exception):
    """An error answer of the Bot API (status + Telegram's description)."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def to_api(self) -> JSON:
        payload: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload


def _webhook_conflict() -> ApiError:
    return ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def _bad(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def _forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    data: bytes
    filename: str
    mime_type: str


class Params:
    """Request parameters with Telegram's lenient typing.

    PTB sends form fields where strings are raw and everything else (ints, booleans, nested
    objects such as ``reply_markup``) is JSON-encoded; JSON bodies carry native values. Typed
    getters accept both so handlers never care how a value travelled.
    """

    def __init__(
        self,
        values: dict[str, object],
        files: dict[str, UploadedFile],
        client_gone: Callable[[], bool] = lambda: False,
    ) -> None:
        self.values = values
        self.files = files
        self.client_gone = client_gone

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value)

    def get_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad(f"invalid {name} specified") from None

    def require_int(self, name: str) -> int:
        value = self.get_int(name)
        if value is None:
            raise _bad(f"{name} is empty")
        return value

    def get_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(str(value))
        except ValueError:
            raise _bad(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str) -> object:
        """A nested object: decoded from a JSON string when it came as a form field."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None

    def get_file(self, name: str) -> UploadedFile | str | None:
        """An uploaded file part, an ``attach://`` reference, or a file_id/URL string."""
        if name in self.files:
            return self.files[name]
        value = self.get_str(name)
        if value and value.startswith("attach://"):
            attached = self.files.get(value.removeprefix("attach://"))
            if attached is None:
                raise _bad(f"can't find attached file {value}")
            return attached
        return value or None


async def _read_params(request: web.Request) -> Params:
    """Decode query string + body (urlencoded, multipart or JSON) into :class:`Params`."""
    values: dict[str, object] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    content_type = request.content_type
    if request.method == "POST" and request.can_read_body:
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad("request body must be a JSON object")
            values.update(body)
        elif content_type == "multipart/form-data":
            await _read_multipart(request, values, files)
        else:
            values.update(parse_qsl(await request.text(), keep_blank_values=True))

    def client_gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    return Params(values, files, client_gone)


async def _read_multipart(
    request: web.Request, values: dict[str, object], files: dict[str, UploadedFile]
) -> None:
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            data = await _read_part(part)
            mime = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
            files[part.name] = UploadedFile(bytes(data), part.filename, mime)
        else:
            values[part.name] = await part.text()


async def _read_part(part: aiohttp.BodyPartReader) -> bytes:
    """Read a file part chunk by chunk.

    ``part.read()`` enforces the host application's ``client_max_size`` (1 MiB by default),
    while Telegram accepts 50 MB documents; the size rules live in the method handlers.
    """
    chunks: list[bytes] = []
    while chunk := await part.read_chunk():
        chunks.append(chunk)
    return b"".join(chunks)


# ============================================================================================
# Records exposed to tests and the demo page
# ============================================================================================


@dataclass
class FakeUser:
    """A simulated Telegram user; their private chat id equals their user id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "fr"
    started: bool = False  # has sent at least one message to the bot
    blocked: bool = False  # has blocked the bot

    @property
    def chat_id(self) -> int:
        return self.id

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def chat_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class Button:
    """An inline keyboard button (exactly one of callback_data / url is set)."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def to_api(self) -> JSON:
        data: JSON = {"text": self.text}
        if self.callback_data is not None:
            data["callback_data"] = self.callback_data
        if self.url is not None:
            data["url"] = self.url
        return data


@dataclass(frozen=True)
class FileInfo:
    """A stored file (uploaded by the bot or sent by a simulated person)."""

    file_id: str
    file_unique_id: str
    filename: str
    mime_type: str
    size: int
    width: int = 0
    height: int = 0

    @property
    def url(self) -> str:
        """Path of the download route, relative to the emulator's origin."""
        return f"/sandbox/files/{self.file_id}"

    def to_dict(self) -> JSON:
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size": self.size,
            "url": self.url,
        }


@dataclass
class MessageRecord:
    """One message of a chat, as a person (or the demo page) sees it."""

    chat_id: int
    message_id: int
    from_bot: bool
    date: datetime
    kind: str = "text"  # text | document | photo | sticker | location
    text: str = ""  # plain text, or the caption of a document/photo
    html: str = ""  # safe HTML to render (regenerated from entities)
    entities: list[JSON] = field(default_factory=list)
    keyboard: list[list[Button]] = field(default_factory=list)
    reply_keyboard: list[list[str]] | None = None
    parse_mode: str | None = None
    edit_count: int = 0
    edit_date: datetime | None = None
    deleted: bool = False
    document: FileInfo | None = None
    photo: FileInfo | None = None
    sticker: FileInfo | None = None
    sticker_emoji: str | None = None
    location: tuple[float, float] | None = None
    seq: int = 0  # emulator-wide change counter of the last change (creation/edit/delete)

    @property
    def buttons(self) -> list[Button]:
        return [button for row in self.keyboard for button in row]

    def find_button(self, text_contains: str) -> Button:
        """The unique button whose label contains ``text_contains`` (case-insensitive)."""
        needle = text_contains.casefold()
        matches = [b for b in self.buttons if needle in b.text.casefold()]
        if len(matches) != 1:
            labels = [b.text for b in self.buttons]
            raise ValueError(
                f"{len(matches)} buttons match {text_contains!r} in message "
                f"{self.message_id}; buttons: {labels}"
            )
        return matches[0]

    def to_dict(self) -> JSON:
        """JSON-serialisable view, pushed to the demo page."""
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "kind": self.kind,
            "text": self.text,
            "html": self.html,
            "entities": self.entities,
            "keyboard": [[b.to_api() for b in row] for row in self.keyboard],
            "reply_keyboard": self.reply_keyboard,
            "edit_count": self.edit_count,
            "deleted": self.deleted,
            "date": self.date.isoformat(),
            "edit_date": self.edit_date.isoformat() if self.edit_date else None,
            "document": self.document.to_dict() if self.document else None,
            "photo": self.photo.to_dict() if self.photo else None,
            "sticker": self.sticker.to_dict() if self.sticker else None,
            "sticker_emoji": self.sticker_emoji,
            "location": list(self.location) if self.location else None,
        }


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot said in answerCallbackQuery."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    text: str | None
    show_alert: bool
    url: str | None

    def to_dict(self) -> JSON:
        return {
            "query_id": self.query_id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "text": self.text,
            "show_alert": self.show_alert,
            "url": self.url,
        }


@dataclass
class _CallbackQuery:
    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


@dataclass
class _StoredFile:
    info: FileInfo
    data: bytes


@dataclass
class _QueuedUpdate:
    update_id: int
    chat_id: int
    kind: str  # "message" | "callback_query"
    payload: JSON
    fetched: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None


@dataclass
class _Markup:
    """A validated reply_markup."""

    keyboard: list[list[Button]] = field(default_factory=list)
    reply_keyboard: list[list[str]] | None = None

    def inline_api(self) -> JSON | None:
        if not self.keyboard:
            return None
        return {"inline_keyboard": [[b.to_api() for b in row] for row in self.keyboard]}


# ============================================================================================
# Fault injection and statistics
# ============================================================================================


@dataclass
class _FaultRule:
    kind: str  # "rate_limit" | "server_error" | "delay"
    remaining: int | None  # None = forever
    methods: frozenset[str]
    value: float  # retry_after, status or seconds


class Faults:
    """Switches that make the next calls fail or slow down, for reliability tests."""

    def __init__(self) -> None:
        self._rules: list[_FaultRule] = []

    def rate_limit(
        self, count: int = 1, retry_after: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        """The next ``count`` send/edit calls answer 429 "retry after ``retry_after``"."""
        scope = frozenset(methods) if methods is not None else SEND_EDIT_METHODS
        self._rules.append(_FaultRule("rate_limit", count, scope, retry_after))

    def server_error(
        self, count: int = 1, status: int = 502, methods: Iterable[str] | None = None
    ) -> None:
        """The next ``count`` action calls (default: ACTION_METHODS) answer a 5xx."""
        scope = frozenset(methods) if methods is not None else ACTION_METHODS
        self._rules.append(_FaultRule("server_error", count, scope, status))

    def delay(
        self, seconds: float, count: int | None = None, methods: Iterable[str] | None = None
    ) -> None:
        """Slow down the next ``count`` (default: all) action calls by ``seconds``."""
        scope = frozenset(methods) if methods is not None else ACTION_METHODS
        self._rules.append(_FaultRule("delay", count, scope, seconds))

    def clear(self) -> None:
        self._rules.clear()

    def _take(self, kind: str, method: str) -> _FaultRule | None:
        for rule in self._rules:
            if rule.kind == kind and method in rule.methods:
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None

    async def apply(self, method: str) -> None:
        """Sleep and/or raise the ApiError that the armed switches ask for."""
        if (rule := self._take("delay", method)) is not None:
            await asyncio.sleep(rule.value)
        if (rule := self._take("server_error", method)) is not None:
            status = int(rule.value)
            reason = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}
            raise ApiError(status, reason.get(status, "Server Error"))
        if (rule := self._take("rate_limit", method)) is not None:
            raise _too_many(int(rule.value))


@dataclass
class Stats:
    """Counters for assertions and benchmarks."""

    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    sent_times: list[float] = field(default_factory=list)  # monotonic, accepted send/edit

    def max_per_window(self, window: float = 1.0) -> int:
        """Largest number of accepted send/edit calls in any sliding ``window`` seconds."""
        best, start = 0, 0
        for end, moment in enumerate(self.sent_times):
            while moment - self.sent_times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


class _SlidingWindow:
    """Timestamps of accepted calls in the last second, to enforce a rate."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def count(self, now: float) -> int:
        while self._times and now - self._times[0] >= 1.0:
            self._times.popleft()
        return len(self._times)

    def add(self, now: float) -> None:
        self._times.append(now)


# ============================================================================================
# The emulator
# ============================================================================================

Handler = Callable[[Params], Awaitable[object]]


class Emulator:
    """Telegram Bot API server + simulated people. See the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_username: str = "tso_demo_bot",
        bot_first_name: str = "TSO Demo",
        bot_id: int | None = None,
        clock: Callable[[], datetime] | None = None,
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        settle_quiet: float = 0.15,
        webhook_retries: int = 3,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = bot_id if bot_id is not None else _bot_id_from_token(token)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.settle_quiet = settle_quiet
        self.webhook_retries = webhook_retries

        self.faults = Faults()
        self.stats = Stats()
        self.unsupported_calls: list[str] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.webhook_failures: list[JSON] = []
        self.call_log: deque[str] = deque(maxlen=200)  # recent calls, for timeout messages

        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }
        self._origin: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._allowed_updates: frozenset[str] | None = None
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._subscribers: list[asyncio.Queue[JSON]] = []
        self._pulse = asyncio.Event()
        self._stopping = False
        self._poll_generation = 0
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(FIRST_USER_ID)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._seq = 0
        self._global_window = _SlidingWindow()
        self._chat_windows: dict[int, _SlidingWindow] = {}
        self._clear_state()

    def _clear_state(self) -> None:
        """Forget users, chats, updates and files (ids keep increasing on purpose)."""
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, list[MessageRecord]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[_QueuedUpdate] = []
        self._queries: dict[str, _CallbackQuery] = {}
        self._files: dict[str, _StoredFile] = {}
        self._activity: dict[int | None, float] = {}
        self._inflight: Counter[int | None] = Counter()
        self.callback_answers.clear()

    # ----------------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (port 0 picks a free port); see :attr:`base_url`."""
        if host not in _WEBHOOK_HOSTS:
            raise ValueError("the emulator only binds to loopback")
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.set_origin(f"http://{host}:{bound_port}")

    async def stop(self) -> None:
        """Wake pending long polls, stop webhook delivery, close the server."""
        self._stopping = True
        self._notify()
        await self._stop_webhook_worker()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def add_routes(self, app: web.Application) -> None:
        """Mount the Bot API and file routes in ``app`` (e.g. the demo server's app).

        Call :meth:`set_origin` once that app listens, so :attr:`base_url` is known.
        """
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/sandbox/files/{file_id}", self._handle_file)
        app.router.add_get("/file/bot{token}/{file_id}", self._handle_file)

    def set_origin(self, origin: str) -> None:
        """Record where the routes are reachable, e.g. ``http://127.0.0.1:8080``."""
        self._origin = origin.rstrip("/")
        self._stopping = False

    @property
    def origin(self) -> str:
        if self._origin is None:
            raise RuntimeError("emulator not started (call start() or set_origin())")
        return self._origin

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.origin}/file/bot"

    def file_url(self, file_id: str) -> str:
        return f"{self.origin}/sandbox/files/{file_id}"

    def reset(self) -> None:
        """Clear users, messages, pending updates and files (the demo's reset button)."""
        self._clear_state()
        self._emit("reset", None)
        self._notify()

    # ----------------------------------------------------------------------------------------
    # HTTP layer
    # ----------------------------------------------------------------------------------------

    def _method_table(self) -> dict[str, Handler]:
        return {
            "getMe": self._api_get_me,
            "getUpdates": self._api_get_updates,
            "setWebhook": self._api_set_webhook,
            "deleteWebhook": self._api_delete_webhook,
            "setMyCommands": self._api_set_my_commands,
            "sendMessage": self._api_send_message,
            "editMessageText": self._api_edit_message_text,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "answerCallbackQuery": self._api_answer_callback_query,
            "sendDocument": self._api_send_document,
            "sendPhoto": self._api_send_photo,
            "deleteMessage": self._api_delete_message,
        }

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json_response(ApiError(401, "Unauthorized").to_api(), 401)
        method_name = request.match_info["method"]
        entry = self._handlers.get(method_name.lower())  # Telegram ignores the case
        if entry is None:
            self.unsupported_calls.append(method_name)
            self.call_log.append(f"{method_name} -> 404 (unsupported)")
            return _json_response(ApiError(404, "Not Found").to_api(), 404)
        method, handler = entry
        self.stats.calls[method] += 1
        try:
            params = await _read_params(request)
            result = await self._dispatch(method, handler, params)
        except ApiError as err:
            self.call_log.append(f"{method} -> {err.status} {err.description}")
            return _json_response(err.to_api(), err.status)
        except Exception as err:  # a bug in the emulator: fail loudly but Telegram-shaped
            log.exception("emulator crashed on %s", method)
            crash = ApiError(500, f"Internal Server Error: emulator bug: {err!r}")
            return _json_response(crash.to_api(), 500)
        self.call_log.append(f"{method} -> ok")
        return _json_response({"ok": True, "result": result})

    async def _dispatch(self, method: str, handler: Handler, params: Params) -> object:
        """Run one call with faults, flood control and activity tracking around it."""
        if method == "getUpdates":  # long poll: neither a chat action nor "in flight"
            return await handler(params)
        chat_id = self._chat_hint(method, params)
        self._inflight[chat_id] += 1
        try:
            await self.faults.apply(method)
            self._check_flood(method, chat_id)
            result = await handler(params)
            self._record_flood(method, chat_id)
            return result
        except ApiError as err:
            if err.status == 429:
                self.stats.rate_limited += 1
            raise
        finally:
            self._inflight[chat_id] -= 1
            self._touch(chat_id)

    def _chat_hint(self, method: str, params: Params) -> int | None:
        """The chat a call acts on, for settle() and per-chat flood control."""
        if method == "answerCallbackQuery":
            query = self._queries.get(params.get_str("callback_query_id") or "")
            return query.chat_id if query else None
        with contextlib.suppress(ApiError):
            return params.get_int("chat_id")
        return None

    async def _handle_file(self, request: web.Request) -> web.Response:
        if "token" in request.match_info and request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        stored = self._files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        info = stored.info
        return web.Response(
            body=stored.data,
            content_type=info.mime_type,
            headers={"Content-Disposition": f'inline; filename="{info.filename}"'},
        )

    # ----------------------------------------------------------------------------------------
    # Flood control
    # ----------------------------------------------------------------------------------------

    def _check_flood(self, method: str, chat_id: int | None) -> None:
        if method not in SEND_EDIT_METHODS:
            return
        now = time.monotonic()
        if self.global_rate is not None and self._global_window.count(now) >= self.global_rate:
            raise _too_many(1)
        if self.per_chat_rate is not None and chat_id is not None:
            window = self._chat_windows.setdefault(chat_id, _SlidingWindow())
            if window.count(now) >= self.per_chat_rate:
                raise _too_many(1)

    def _record_flood(self, method: str, chat_id: int | None) -> None:
        if method not in SEND_EDIT_METHODS:
            return
        now = time.monotonic()
        self.stats.sent_times.append(now)
        self._global_window.add(now)
        if chat_id is not None:
            self._chat_windows.setdefault(chat_id, _SlidingWindow()).add(now)

    # ----------------------------------------------------------------------------------------
    # Bot API: bot, updates, webhook, commands
    # ----------------------------------------------------------------------------------------

    def bot_user_api(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_get_me(self, params: Params) -> object:
        return self.bot_user_api()

    async def _api_get_updates(self, params: Params) -> object:
        if self._webhook is not None:
            raise _webhook_conflict()
        offset = params.get_int("offset")
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = max(params.get_float("timeout") or 0.0, 0.0)
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) or None
        self._confirm_updates(offset)
        # A newer getUpdates terminates an older one, like Telegram; this also retires the
        # long polls PTB abandons (it closes the connection, the handler keeps running).
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        deadline = time.monotonic() + timeout
        while True:
            if self._webhook is not None:
                raise _webhook_conflict()
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if params.client_gone():
                return []
            batch = self._deliverable_updates(limit)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopping:
                return [self._mark_fetched(update) for update in batch]
            await self._wait_change(remaining)

    def _confirm_updates(self, offset: int | None) -> None:
        """Drop updates the bot confirmed (id < offset; negative: keep the last -offset)."""
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u.update_id >= offset]
        self._notify()

    def _deliverable_updates(self, limit: int) -> list[_QueuedUpdate]:
        allowed = self._allowed_updates
        if allowed is not None:  # Telegram never delivers filtered-out updates
            self._updates = [u for u in self._updates if u.kind in allowed]
        return self._updates[:limit]

    def _mark_fetched(self, update: _QueuedUpdate) -> JSON:
        update.fetched = True
        self._touch(update.chat_id)
        return update.payload

    async def _api_set_webhook(self, params: Params) -> object:
        url = params.get_str("url") or ""
        if not url:
            return await self._api_delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in _WEBHOOK_HOSTS:
            raise _bad("bad webhook: the sandbox only delivers to http(s)://127.0.0.1 URLs")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise _bad("secret token contains unallowed characters")
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) or None
        self._webhook = _Webhook(url, secret)
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_worker())
        self._notify()  # a pending long poll now ends with 409, like on Telegram
        return True

    async def _api_delete_webhook(self, params: Params) -> object:
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        await self._stop_webhook_worker()
        self._notify()
        return True

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _webhook_worker(self) -> None:
        """Deliver queued updates one by one, in order, while a webhook is set."""
        while (hook := self._webhook) is not None and not self._stopping:
            batch = self._deliverable_updates(1)
            if not batch:
                await self._wait_change(1.0)
                continue
            update = batch[0]
            delivered = await self._post_update(hook, update)
            if update in self._updates:
                self._updates.remove(update)
            if delivered:
                self._mark_fetched(update)
            else:
                self.webhook_failures.append({"update_id": update.update_id, "url": hook.url})
            self._notify()

    async def _post_update(self, hook: _Webhook, update: _QueuedUpdate) -> bool:
        """POST one update, retrying a few times with a short backoff, like Telegram."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        body = json.dumps(update.payload, ensure_ascii=False).encode()
        for attempt in range(self.webhook_retries):
            try:
                async with self._session.post(hook.url, data=body, headers=headers) as resp:
                    if 200 <= resp.status < 300:
                        return True
            except (aiohttp.ClientError, TimeoutError) as err:
                log.debug("webhook delivery failed: %r", err)
            await asyncio.sleep(0.05 * 2**attempt)
        return False

    async def _api_set_my_commands(self, params: Params) -> object:
        raw = params.get_json("commands")
        if not isinstance(raw, list) or len(raw) > 100:
            raise _bad("commands must be an array of at most 100 BotCommand")
        commands = [_validate_command(item) for item in raw]
        scope = params.get_json("scope") or {"type": "default"}
        language = params.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        self._commands[(_scope_key(scope), language)] = commands
        return True

    def commands(self, language_code: str | None = None, scope: JSON | None = None) -> list[JSON]:
        """Commands set for (scope, language) — default scope, no language by default."""
        key = (_scope_key(scope or {"type": "default"}), language_code or "")
        return list(self._commands.get(key, []))

    # ----------------------------------------------------------------------------------------
    # Bot API: messages
    # ----------------------------------------------------------------------------------------

    async def _api_send_message(self, params: Params) -> object:
        user = self._target_user(params)
        formatted = _format(params, "text", caption=False)
        markup = _parse_markup(params.get_json("reply_markup"), inline_only=False)
        record = self._new_bot_record(user.id, "text", formatted, markup, params)
        return self._message_api(record)

    async def _api_send_document(self, params: Params) -> object:
        return await self._send_file(params, "document")

    async def _api_send_photo(self, params: Params) -> object:
        return await self._send_file(params, "photo")

    async def _send_file(self, params: Params, kind: str) -> object:
        user = self._target_user(params)
        info = self._resolve_upload(params.get_file(kind), kind)
        formatted = _format(params, "caption", caption=True)
        markup = _parse_markup(params.get_json("reply_markup"), inline_only=False)
        record = self._new_bot_record(user.id, kind, formatted, markup, params)
        if kind == "photo":
            record.photo = info
        else:
            record.document = info
        return self._message_api(record)

    def _resolve_upload(self, source: UploadedFile | str | None, kind: str) -> FileInfo:
        if source is None:
            raise _bad(f"there is no {kind} in the request")
        if isinstance(source, str):
            stored = self._files.get(source)
            if stored is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            return stored.info
        if not source.data:
            raise _bad("file must be non-empty")
        if kind == "photo":
            if len(source.data) > MAX_PHOTO_BYTES:
                raise _bad("PHOTO_INVALID_DIMENSIONS")
            size = _image_size(source.data)
            if size is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            return self._store_file(source, kind, size)
        if len(source.data) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return self._store_file(source, kind, (0, 0))

    def _store_file(self, upload: UploadedFile, kind: str, size: tuple[int, int]) -> FileInfo:
        number = next(self._file_ids)
        prefix = {"photo": "AgAC", "document": "BQAC", "sticker": "CAAC"}.get(kind, "BAAC")
        info = FileInfo(
            file_id=f"{prefix}{number:08d}{self.bot_id % 10**6:06d}",
            file_unique_id=f"AQAD{number:08d}",
            filename=upload.filename,
            mime_type=upload.mime_type,
            size=len(upload.data),
            width=size[0],
            height=size[1],
        )
        self._files[info.file_id] = _StoredFile(info, upload.data)
        return info

    async def _api_edit_message_text(self, params: Params) -> object:
        record = self._editable_record(params)
        if record.kind != "text":
            raise _bad("there is no text in the message to edit")
        formatted = _format(params, "text", caption=False)
        markup = _parse_markup(params.get_json("reply_markup"), inline_only=True)
        new_entities = formatted.entities_api()
        if (formatted.text, new_entities, markup.keyboard) == (
            record.text,
            record.entities,
            record.keyboard,
        ):
            raise _bad(_NOT_MODIFIED)
        record.text = formatted.text
        record.entities = new_entities
        record.html = entities_to_html(formatted.text, formatted.entities)
        record.parse_mode = params.get_str("parse_mode")
        record.keyboard = markup.keyboard  # no reply_markup = keyboard removed, as on Telegram
        return self._message_api(self._mark_edited(record))

    async def _api_edit_message_reply_markup(self, params: Params) -> object:
        record = self._editable_record(params)
        markup = _parse_markup(params.get_json("reply_markup"), inline_only=True)
        if markup.keyboard == record.keyboard:
            raise _bad(_NOT_MODIFIED)
        record.keyboard = markup.keyboard
        return self._message_api(self._mark_edited(record))

    def _mark_edited(self, record: MessageRecord) -> MessageRecord:
        record.edit_count += 1
        record.edit_date = self.clock()
        self._changed(record, "edited")
        return record

    async def _api_delete_message(self, params: Params) -> object:
        user = self._chat_user(params)
        message_id = params.require_int("message_id")
        record = self._find_record(user.id, message_id)
        if record is None or record.deleted:
            raise _bad("message to delete not found")
        record.deleted = True
        self._changed(record, "deleted")
        return True

    async def _api_answer_callback_query(self, params: Params) -> object:
        query_id = params.get_str("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise _bad(_QUERY_INVALID)
        text = params.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(
            query_id=query_id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=text,
            show_alert=params.get_bool("show_alert"),
            url=params.get_str("url"),
        )
        self.callback_answers.append(answer)
        self._emit("callback_answer", query.chat_id, answer=answer.to_dict())
        return True

    # -- helpers for the message methods -------------------------------------------------------

    def _chat_user(self, params: Params) -> FakeUser:
        """Resolve ``chat_id`` to a known private chat (400 chat not found otherwise)."""
        raw = params.get_str("chat_id")
        if not raw:
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except ValueError:
            raise _bad("chat not found") from None  # @usernames only resolve for channels
        user = self._users.get(chat_id)
        if user is None:
            raise _bad("chat not found")
        return user

    def _target_user(self, params: Params) -> FakeUser:
        """A chat the bot may write to: known, started, not blocked (else 403)."""
        user = self._chat_user(params)
        if user.blocked:
            raise _forbidden("bot was blocked by the user")
        if not user.started:
            raise _forbidden("bot can't initiate conversation with a user")
        return user

    def _editable_record(self, params: Params) -> MessageRecord:
        if params.get_str("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # inline mode is not used by the project
        user = self._target_user(params)
        record = self._find_record(user.id, params.require_int("message_id"))
        if record is None or record.deleted:
            raise _bad("message to edit not found")
        if not record.from_bot:
            raise _bad("message can't be edited")
        return record

    def _find_record(self, chat_id: int, message_id: int) -> MessageRecord | None:
        for record in self._chats.get(chat_id, []):
            if record.message_id == message_id:
                return record
        return None

    def _new_record(self, chat_id: int, from_bot: bool, kind: str) -> MessageRecord:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        record = MessageRecord(
            chat_id=chat_id, message_id=message_id, from_bot=from_bot, date=self.clock(), kind=kind
        )
        self._chats.setdefault(chat_id, []).append(record)
        return record

    def _new_bot_record(
        self,
        chat_id: int,
        kind: str,
        formatted: FormattedText,
        markup: _Markup,
        params: Params,
    ) -> MessageRecord:
        record = self._new_record(chat_id, True, kind)
        record.text = formatted.text
        record.entities = formatted.entities_api()
        record.html = entities_to_html(formatted.text, formatted.entities)
        record.parse_mode = params.get_str("parse_mode")
        record.keyboard = markup.keyboard
        record.reply_keyboard = markup.reply_keyboard
        self._changed(record, "bot_message")
        return record

    def _message_api(self, record: MessageRecord) -> JSON:
        """The Bot API ``Message`` object for a record."""
        user = self._users.get(record.chat_id)
        chat = user.chat_api() if user else {"id": record.chat_id, "type": "private"}
        sender = self.bot_user_api() if record.from_bot else (user.to_api() if user else {})
        data: JSON = {
            "message_id": record.message_id,
            "from": sender,
            "chat": chat,
            "date": _timestamp(record.date),
        }
        if record.edit_date is not None:
            data["edit_date"] = _timestamp(record.edit_date)
        data.update(self._content_api(record))
        markup = _Markup(record.keyboard).inline_api()
        if markup is not None:
            data["reply_markup"] = markup
        return data

    def _content_api(self, record: MessageRecord) -> JSON:
        text_key, entities_key = "caption", "caption_entities"
        content: JSON = {}
        if record.kind == "text":
            text_key, entities_key = "text", "entities"
        elif record.kind == "document" and record.document:
            content["document"] = _document_api(record.document)
        elif record.kind == "photo" and record.photo:
            content["photo"] = [_photo_size_api(record.photo)]
        elif record.kind == "sticker" and record.sticker:
            content["sticker"] = _sticker_api(record.sticker, record.sticker_emoji)
        elif record.kind == "location" and record.location:
            content["location"] = {
                "latitude": record.location[0],
                "longitude": record.location[1],
            }
        if record.text or record.kind == "text":
            content[text_key] = record.text
        if record.entities:
            content[entities_key] = record.entities
        return content

    # ----------------------------------------------------------------------------------------
    # Person side: users and their actions
    # ----------------------------------------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
    ) -> FakeUser:
        """Create a person (ids from 1000; their private chat id is their user id)."""
        user = FakeUser(next(self._user_ids), first_name, last_name, username, language_code)
        self._users[user.id] = user
        return user

    def user(self, user_id: int) -> FakeUser:
        try:
            return self._users[user_id]
        except KeyError:
            raise ValueError(f"unknown user {user_id}") from None

    @property
    def users(self) -> list[FakeUser]:
        return list(self._users.values())

    def block(self, user_id: int) -> None:
        """The person blocks the bot: sends answer 403 "bot was blocked by the user"."""
        self.user(user_id).blocked = True

    def unblock(self, user_id: int) -> None:
        self.user(user_id).blocked = False

    async def send_text(self, user_id: int, text: str) -> MessageRecord:
        """The person sends ``text``; a leading /command gets a bot_command entity."""
        if not text.strip():
            raise ValueError("Telegram clients cannot send an empty message")
        record = self._new_user_record(user_id, "text", text, _command_entities(text))
        return self._publish_user_message(record)

    async def send_sticker(self, user_id: int, emoji: str = "👍") -> MessageRecord:
        """The person sends a sticker (the bot gets a ``sticker`` message, no text)."""
        upload = UploadedFile(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "sticker.webp", "image/webp")
        record = self._new_user_record(user_id, "sticker")
        record.sticker = self._store_file(upload, "sticker", (512, 512))
        record.sticker_emoji = emoji
        return self._publish_user_message(record)

    async def send_photo_from_user(
        self, user_id: int, data: bytes | None = None, caption: str | None = None
    ) -> MessageRecord:
        """The person sends a photo (a 1x1 PNG unless ``data`` is given)."""
        payload = data if data is not None else _TINY_PNG
        size = _image_size(payload)
        if size is None:
            raise ValueError("data is not a PNG/JPEG/GIF/WebP image")
        mime = "image/png" if payload.startswith(b"\x89PNG") else "image/jpeg"
        record = self._new_user_record(user_id, "photo", caption or "")
        record.photo = self._store_file(UploadedFile(payload, "photo", mime), "photo", size)
        return self._publish_user_message(record)

    async def send_location(
        self, user_id: int, latitude: float = 48.8566, longitude: float = 2.3522
    ) -> MessageRecord:
        """The person shares a location."""
        record = self._new_user_record(user_id, "location")
        record.location = (latitude, longitude)
        return self._publish_user_message(record)

    def _new_user_record(
        self, user_id: int, kind: str, text: str = "", entities: list[Entity] | None = None
    ) -> MessageRecord:
        """A message from the person, not yet visible to the bot."""
        user = self.user(user_id)
        user.started = True
        user.blocked = False  # writing to a bot you blocked requires unblocking it first
        record = self._new_record(user.id, False, kind)
        record.text = text
        record.entities = [entity.to_api() for entity in entities or []]
        record.html = entities_to_html(text, entities or [])
        return record

    def _publish_user_message(self, record: MessageRecord) -> MessageRecord:
        """Announce the person's message and queue the update for the bot."""
        self._changed(record, "user_message")
        self._queue_update(record.chat_id, "message", self._message_api(record))
        return record

    async def press(
        self, user_id: int, message_id: int, callback_data: str, *, forge: bool = False
    ) -> str:
        """The person taps an inline button; returns the callback query id.

        Without ``forge`` the data must belong to the message's *current* keyboard, which is
        what a real client can send; ``forge=True`` simulates a tampered client.
        """
        user = self.user(user_id)
        record = self._find_record(user.id, message_id)
        if record is None or record.deleted or not record.from_bot:
            raise ValueError(f"no bot message {message_id} in chat {user.id}")
        if not forge and callback_data not in {b.callback_data for b in record.buttons}:
            raise ValueError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"current buttons: {[b.to_api() for b in record.buttons]}"
            )
        query_id = str(4_000_000_000_000_000 + next(self._query_ids))
        self._queries[query_id] = _CallbackQuery(
            query_id, user.id, user.id, message_id, callback_data
        )
        payload = {
            "id": query_id,
            "from": user.to_api(),
            "message": self._message_api(record),
            "chat_instance": str(-(10**12) - user.id),
            "data": callback_data,
        }
        self._emit("callback_query", user.id, message=record.to_dict(), data=callback_data)
        self._touch(user.id)
        self._queue_update(user.id, "callback_query", payload)
        return query_id

    async def press_button(self, user_id: int, message_id: int, text_contains: str) -> str:
        """Tap the button whose label contains ``text_contains``; returns the query id."""
        record = self._find_record(user_id, message_id)
        if record is None:
            raise ValueError(f"no message {message_id} in chat {user_id}")
        button = record.find_button(text_contains)
        if button.callback_data is None:
            raise ValueError(f"button {button.text!r} is a URL button, it has no callback")
        return await self.press(user_id, message_id, button.callback_data)

    def _queue_update(self, chat_id: int, kind: str, body: JSON) -> None:
        update_id = next(self._update_ids)
        payload = {"update_id": update_id, kind: body}
        self._updates.append(_QueuedUpdate(update_id, chat_id, kind, payload))
        self._touch(chat_id)
        self._notify()

    # ----------------------------------------------------------------------------------------
    # Person side: reading
    # ----------------------------------------------------------------------------------------

    def messages(self, chat_id: int, *, include_deleted: bool = True) -> list[MessageRecord]:
        """All messages of a private chat, oldest first."""
        records = self._chats.get(chat_id, [])
        return [r for r in records if include_deleted or not r.deleted]

    def bot_messages(self, chat_id: int) -> list[MessageRecord]:
        """Bot messages still visible in the chat, oldest first."""
        return [r for r in self.messages(chat_id, include_deleted=False) if r.from_bot]

    def last_bot_message(self, chat_id: int) -> MessageRecord | None:
        visible = self.bot_messages(chat_id)
        return visible[-1] if visible else None

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return next((a for a in self.callback_answers if a.query_id == query_id), None)

    def file(self, file_id: str) -> tuple[bytes, str, str]:
        """(bytes, filename, mime type) of a stored file."""
        stored = self._files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored.data, stored.info.filename, stored.info.mime_type

    @property
    def chat_ids(self) -> list[int]:
        """Chats that have at least one message, in creation order."""
        return list(self._chats)

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot."""
        return len(self._updates)

    # ----------------------------------------------------------------------------------------
    # Synchronisation
    # ----------------------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake everything waiting for a change (long polls, wait_for, settle)."""
        self._pulse.set()
        self._pulse = asyncio.Event()

    async def _wait_change(self, max_wait: float) -> None:
        pulse = self._pulse
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pulse.wait(), max_wait)

    def _touch(self, chat_id: int | None) -> None:
        now = time.monotonic()
        self._activity[None] = now
        if chat_id is not None:
            self._activity[chat_id] = now
        self._notify()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109, RUF100 - documented API
        description: str = "",
    ) -> None:
        """Wait until ``predicate()`` is true; it is re-checked after every change."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = description or getattr(predicate, "__name__", repr(predicate))
                raise TimeoutError(
                    f"condition {what!r} still false after {timeout}s; "
                    f"recent bot calls: {list(self.call_log)[-10:]}"
                )
            await self._wait_change(remaining)

    def _busy_reason(self, chat_id: int | None, quiet: float) -> str | None:
        """Why ``chat_id`` (or everything) is not settled yet, or None if it is."""
        updates = [u for u in self._updates if chat_id is None or u.chat_id == chat_id]
        unfetched = [u for u in updates if not u.fetched]
        if unfetched:
            return f"{len(unfetched)} update(s) not fetched by the bot (is it polling?)"
        inflight = sum(self._inflight.values()) if chat_id is None else self._inflight[chat_id]
        if inflight:
            return f"{inflight} bot call(s) in progress"
        idle = time.monotonic() - self._activity.get(chat_id, 0.0)
        if idle < quiet:
            return f"bot active {idle:.3f}s ago"
        return None

    async def settle(
        self,
        chat_id: int | None = None,
        quiet: float | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109, RUF100 - documented API
    ) -> None:
        """Wait until the bot fetched every queued update and went quiet.

        "Quiet" means no bot call touched ``chat_id`` (any chat if None) for ``quiet``
        seconds (default :attr:`settle_quiet`). Raises TimeoutError with the reason.
        """
        quiet = self.settle_quiet if quiet is None else quiet
        deadline = time.monotonic() + timeout
        while (reason := self._busy_reason(chat_id, quiet)) is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"chat {chat_id} not settled after {timeout}s: {reason}; "
                    f"recent bot calls: {list(self.call_log)[-10:]}"
                )
            idle = time.monotonic() - self._activity.get(chat_id, 0.0)
            await self._wait_change(min(remaining, max(quiet - idle, 0.005)))

    def _changed_since(self, chat_id: int, seq: int) -> list[MessageRecord]:
        """Visible bot messages of the chat created or edited after change ``seq``."""
        return [r for r in self.bot_messages(chat_id) if r.seq > seq]

    async def _wait_reaction(
        self, chat_id: int, before: int, expect: int, quiet: float | None, budget: float
    ) -> list[MessageRecord]:
        """Wait for ``expect`` changed bot messages (if any are expected), then settle.

        ``expect`` protects against handlers that think for longer than ``quiet`` before
        their first call: settle() alone would return too early with nothing.
        """
        deadline = time.monotonic() + budget
        if expect:
            await self.wait_for(
                lambda: len(self._changed_since(chat_id, before)) >= expect,
                timeout=budget,
                description=f"{expect} new/edited bot message(s) in chat {chat_id}",
            )
        await self.settle(chat_id, quiet=quiet, timeout=max(deadline - time.monotonic(), 0.0))
        return self._changed_since(chat_id, before)

    async def send_text_and_wait(
        self,
        user_id: int,
        text: str,
        *,
        expect: int = 0,
        quiet: float | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109, RUF100 - documented API
    ) -> list[MessageRecord]:
        """Send text, settle the chat, return the bot messages sent or edited since.

        Messages deleted meanwhile are not returned (see :meth:`messages` for those).
        """
        before = self._seq
        await self.send_text(user_id, text)
        return await self._wait_reaction(user_id, before, expect, quiet, timeout)

    async def press_and_wait(
        self,
        user_id: int,
        message_id: int,
        callback_data: str | None = None,
        *,
        text_contains: str | None = None,
        forge: bool = False,
        expect: int = 0,
        quiet: float | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109, RUF100 - documented API
    ) -> list[MessageRecord]:
        """Press a button (by data or by label), settle, return the bot messages changed."""
        before = self._seq
        if callback_data is not None:
            await self.press(user_id, message_id, callback_data, forge=forge)
        elif text_contains is not None:
            await self.press_button(user_id, message_id, text_contains)
        else:
            raise ValueError("give callback_data or text_contains")
        return await self._wait_reaction(user_id, before, expect, quiet, timeout)

    # ----------------------------------------------------------------------------------------
    # Live events
    # ----------------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[JSON]:
        """A queue receiving every change as a JSON-serialisable dict."""
        queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[JSON]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    def _emit(self, kind: str, chat_id: int | None, **payload: Any) -> None:
        event: JSON = {"type": kind, "chat_id": chat_id, **payload}
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _changed(self, record: MessageRecord, kind: str) -> None:
        self._seq += 1
        record.seq = self._seq
        self._emit(kind, record.chat_id, message=record.to_dict())
        self._notify()


# ============================================================================================
# Pure helpers
# ============================================================================================


def _json_response(payload: JSON, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def _bot_id_from_token(token: str) -> int:
    """Telegram bot ids are the numeric prefix of the token."""
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 7_000_000_001


def _scope_key(scope: object) -> str:
    return json.dumps(scope, sort_keys=True)


def _validate_command(item: object) -> JSON:
    if not isinstance(item, dict):
        raise _bad("can't parse BotCommand")
    command, description = item.get("command"), item.get("description")
    if not isinstance(command, str) or not _COMMAND.match(command):
        raise _bad("BOT_COMMAND_INVALID")
    if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
        raise _bad("command description is empty or too long")
    return {"command": command, "description": description}


def _format(params: Params, key: str, *, caption: bool) -> FormattedText:
    """Apply parse_mode / entities to ``text`` or ``caption`` and enforce the length rules."""
    raw = params.get_str(key) or ""
    parse_mode = (params.get_str("parse_mode") or "").strip()
    entities_key = "caption_entities" if caption else "entities"
    if parse_mode:
        if parse_mode.lower() != "html":
            raise _bad(f"unsupported parse_mode {parse_mode!r} (the sandbox implements HTML)")
        try:
            formatted = parse_html(raw)
        except HtmlParseError as err:
            raise _bad(f"can't parse entities: {err}") from None
    elif params.values.get(entities_key) is not None:
        try:
            formatted = FormattedText(raw, entities_from_api(params.get_json(entities_key)))
        except ValueError as err:
            raise _bad(f"can't parse entities: {err}") from None
    else:
        formatted = FormattedText(raw)
    formatted = trim_formatted(formatted)
    if not caption and not formatted.text:
        raise _bad("message text is empty")
    if utf16_len(formatted.text) > (MAX_CAPTION if caption else MAX_TEXT):
        raise _bad("message caption is too long" if caption else "message is too long")
    return formatted


def _parse_markup(raw: object, *, inline_only: bool) -> _Markup:
    """Validate reply_markup like Telegram; None means "no keyboard"."""
    if raw is None:
        return _Markup()
    if not isinstance(raw, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        return _Markup(keyboard=_parse_inline_keyboard(raw["inline_keyboard"]))
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in raw:
        rows = raw["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays')
        labels = [[_reply_button_text(b) for b in row] for row in rows]
        return _Markup(reply_keyboard=labels)
    if raw.get("remove_keyboard") or raw.get("force_reply"):
        return _Markup(reply_keyboard=[])
    raise _bad("can't parse reply keyboard markup JSON object")


def _reply_button_text(button: object) -> str:
    if isinstance(button, str):
        return button
    if isinstance(button, dict) and isinstance(button.get("text"), str):
        return str(button["text"])
    raise _bad('can\'t parse keyboard button: Field "text" must be of type String')


def _parse_inline_keyboard(rows: object) -> list[list[Button]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    keyboard = [[_parse_inline_button(button) for button in row] for row in rows]
    if sum(len(row) for row in keyboard) > MAX_INLINE_BUTTONS:
        raise _bad("reply markup is too long")
    return [row for row in keyboard if row]


def _parse_inline_button(raw: object) -> Button:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    text = str(raw["text"])
    if not text.strip():
        raise _bad("BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if raw.get(key) is not None]
    if not actions:
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise _bad("can't parse inline keyboard button: exactly one action field must be set")
    if actions[0] == "callback_data":
        data = raw["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")
        return Button(text, callback_data=data)
    if actions[0] == "url":
        url = raw["url"]
        if not isinstance(url, str) or not _valid_button_url(url):
            raise _bad("BUTTON_URL_INVALID")
        return Button(text, url=url)
    raise _bad(f"inline button field {actions[0]!r} is not supported by the sandbox")


def _valid_button_url(url: str) -> bool:
    """Telegram accepts http(s) links to a real host name, and tg:// deep links."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        return "." in host or host == "localhost"
    return parts.scheme == "tg" and bool(parts.netloc or parts.path)


def _command_entities(text: str) -> list[Entity]:
    """Telegram marks a leading ``/command`` (``/start@bot`` included) as bot_command."""
    match = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?", text)
    if match is None:
        return []
    return [Entity("bot_command", 0, utf16_len(match.group(0)))]


def _document_api(info: FileInfo) -> JSON:
    return {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "file_name": info.filename,
        "mime_type": info.mime_type,
        "file_size": info.size,
    }


def _photo_size_api(info: FileInfo) -> JSON:
    return {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "width": info.width,
        "height": info.height,
        "file_size": info.size,
    }


def _sticker_api(info: FileInfo, emoji: str | None) -> JSON:
    return {
        "file_id": info.file_id,
        "file_unique_id": info.file_unique_id,
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
    }


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG/GIF/JPEG/WebP image, None if it is not one of those."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return (0, 0)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk JPEG segments to the first SOFn marker, which holds the dimensions."""
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + int(length)
    return None


@contextlib.asynccontextmanager
async def polling_application(
    application: Application[Any, Any, Any, Any, Any, Any],
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run a PTB Application with long polling for the duration of the block.

    ``poll_interval=0`` makes the next getUpdates start as soon as one returns, so an update
    reaches the handlers within milliseconds. The application must be built with
    ``.base_url(emulator.base_url)``.
    """
    if application.updater is None:
        raise ValueError("the application needs an Updater to poll")
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
