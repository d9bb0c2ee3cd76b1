"""The Telegram emulator, driven by the real python-telegram-bot (proves compatibility)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tso_bot.sandbox.emulator import Emulator, FakeUser, polling_application

TOKEN = "123456:TEST-TOKEN"

# PTB 22 warns when RetryAfter.retry_after is read as an int; that is what we check here.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    emulator = Emulator(TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url) as tg_bot:
        yield tg_bot


@pytest.fixture
async def alice(emu: Emulator) -> FakeUser:
    """A user who has started the bot."""
    user = emu.add_user("Alice", "Martin", username="alice")
    await emu.send_text(user.id, "/start")
    return user


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


# -- basics -----------------------------------------------------------------------------------


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == "tso_demo_bot"
    assert me.id == 123456


async def test_wrong_token_is_unauthorized(emu: Emulator) -> None:
    with pytest.raises(InvalidToken, match=r"(?i)rejected by the server"):
        async with Bot("999:WRONG", base_url=emu.base_url):
            pass
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{emu.base_url}999:WRONG/getMe")
    assert resp.status_code == 401
    assert resp.json()["description"] == "Unauthorized"


async def test_unsupported_method_is_recorded(bot: Bot, emu: Emulator) -> None:
    with pytest.raises(InvalidToken, match=r"(?i)Not Found"):
        await bot.get_webhook_info()
    assert emu.unsupported_calls == ["getWebhookInfo"]


async def test_json_and_query_string_bodies(emu: Emulator, alice: FakeUser) -> None:
    async with httpx.AsyncClient(base_url=f"{emu.base_url}{TOKEN}/") as client:
        resp = await client.post("sendMessage", json={"chat_id": alice.id, "text": "json"})
        assert resp.json()["result"]["text"] == "json"
        resp = await client.get("sendMessage", params={"chat_id": alice.id, "text": "query"})
        assert resp.json()["ok"] is True
        resp = await client.post("sendMessage", json={"chat_id": alice.id, "text": ""})
        assert resp.status_code == 400
        assert resp.json() == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message text is empty",
        }
    assert [m.text for m in emu.bot_messages(alice.id)] == ["json", "query"]


# -- messages ---------------------------------------------------------------------------------


async def test_send_html_message_with_keyboard(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    sent = await bot.send_message(
        alice.id,
        "<b>Bonjour</b> &amp; bienvenue 👋 <i>Alice</i>",
        parse_mode="HTML",
        reply_markup=keyboard(("Oui", "yes"), ("Non", "no")),
    )
    assert sent.text == "Bonjour & bienvenue 👋 Alice"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 7),
        ("italic", 23, 5),  # the emoji counts as 2 UTF-16 units
    ]
    assert sent.reply_markup is not None
    record = emu.last_bot_message(alice.id)
    assert record is not None
    assert record.message_id == sent.message_id
    assert record.html == "<b>Bonjour</b> &amp; bienvenue 👋 <i>Alice</i>"
    assert [[b.callback_data for b in row] for row in record.keyboard] == [["yes"], ["no"]]


async def test_plain_text_is_escaped_for_the_page(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    await bot.send_message(alice.id, "  1 < 2 & <b>  \n")
    record = emu.last_bot_message(alice.id)
    assert record is not None
    assert record.text == "1 < 2 & <b>"  # trimmed like Telegram
    assert record.html == "1 &lt; 2 &amp; &lt;b&gt;"


async def test_edit_text_and_markup(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    sent = await bot.send_message(alice.id, "v1", reply_markup=keyboard(("A", "a")))
    edited = await bot.edit_message_text(
        "v2", chat_id=alice.id, message_id=sent.message_id, reply_markup=keyboard(("B", "b"))
    )
    assert isinstance(edited, object)
    record = emu.last_bot_message(alice.id)
    assert record is not None
    assert (record.text, record.edit_count, record.keyboard[0][0].text) == ("v2", 1, "B")
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=None)
    assert record.keyboard == []
    assert record.edit_count == 2


async def test_edit_text_without_markup_removes_keyboard(
    bot: Bot, emu: Emulator, alice: FakeUser
) -> None:
    sent = await bot.send_message(alice.id, "v1", reply_markup=keyboard(("A", "a")))
    await bot.edit_message_text("v2", chat_id=alice.id, message_id=sent.message_id)
    record = emu.last_bot_message(alice.id)
    assert record is not None
    assert record.keyboard == []


async def test_not_modified(bot: Bot, alice: FakeUser) -> None:
    sent = await bot.send_message(
        alice.id, "<b>same</b>", parse_mode="HTML", reply_markup=keyboard(("A", "a"))
    )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified: specified new message"):
        await bot.edit_message_text(
            "<b>same</b>",
            chat_id=alice.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard(("A", "a")),
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(
            alice.id, sent.message_id, reply_markup=keyboard(("A", "a"))
        )


async def test_edit_and_delete_unknown_messages(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(alice.id, 999)
    sent = await bot.send_message(alice.id, "bye")
    assert await bot.delete_message(alice.id, sent.message_id) is True
    assert emu.messages(alice.id)[-1].deleted
    assert emu.last_bot_message(alice.id) is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(alice.id, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=1)  # Alice's /start


async def test_callback_query_roundtrip(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    sent = await bot.send_message(alice.id, "Choose", reply_markup=keyboard(("Yes", "y")))
    await bot.get_updates(offset=-1)  # confirm Alice's /start
    query_id = await emu.press_button(alice.id, sent.message_id, "yes")
    (update,) = await bot.get_updates(offset=-1, timeout=1)
    assert update.callback_query is not None
    assert update.callback_query.id == query_id
    assert update.callback_query.data == "y"
    assert await bot.answer_callback_query(query_id, text="Noté", show_alert=True)
    answer = emu.callback_answer(query_id)
    assert answer is not None
    assert (answer.text, answer.show_alert, answer.data) == ("Noté", True, "y")
    with pytest.raises(BadRequest, match=r"(?i)query is too old and response timeout expired"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_press_checks_current_keyboard(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    sent = await bot.send_message(alice.id, "Choose", reply_markup=keyboard(("Yes", "y")))
    with pytest.raises(ValueError, match=r"(?i)no button with callback_data 'x'"):
        await emu.press(alice.id, sent.message_id, "x")
    await emu.press(alice.id, sent.message_id, "x", forge=True)  # tampered client
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=None)
    with pytest.raises(ValueError, match=r"(?i)no button"):
        await emu.press(alice.id, sent.message_id, "y")


async def test_document_upload_and_download(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    content = b"%PDF-1.4 fake recap\n" * 10_000  # > 1 MiB would break request.post()
    content *= 6
    sent = await bot.send_document(
        alice.id,
        io.BytesIO(content),
        filename="recap.pdf",
        caption="<b>Votre récap</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None
    assert sent.document.file_name == "recap.pdf"
    assert sent.document.file_size == len(content)
    assert sent.caption == "Votre récap"
    data, filename, mime = emu.file(sent.document.file_id)
    assert (data, filename, mime) == (content, "recap.pdf", "application/pdf")
    async with httpx.AsyncClient() as client:
        resp = await client.get(emu.file_url(sent.document.file_id))
    assert resp.content == content
    assert resp.headers["content-type"] == "application/pdf"
    again = await bot.send_document(alice.id, sent.document.file_id)  # resend by file_id
    assert again.document is not None
    assert again.document.file_id == sent.document.file_id


async def test_photo_upload(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    user_photo = await emu.send_photo_from_user(alice.id)
    assert user_photo.photo is not None
    png, _, _ = emu.file(user_photo.photo.file_id)
    sent = await bot.send_photo(alice.id, png, caption="chart")
    assert sent.photo[-1].width == 1
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(alice.id, b"not an image", filename="x.png")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(alice.id, "unknown-file-id")


async def test_set_my_commands(bot: Bot, emu: Emulator) -> None:
    await bot.set_my_commands([("start", "Démarrer"), ("aide", "Aide")])
    await bot.set_my_commands([("start", "Start")], language_code="en")
    assert [c["command"] for c in emu.commands()] == ["start", "aide"]
    assert emu.commands("en") == [{"command": "start", "description": "Start"}]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Command", "x")])


# -- strictness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parse_mode", "error"),
    [
        ("", None, "message text is empty"),
        ("   \n ", None, "message text is empty"),
        ("<b></b>", "HTML", "message text is empty"),
        ("x" * 4097, None, "message is too long"),
        ("😀" * 2049, None, "message is too long"),  # 4098 UTF-16 units
        ("a<br>b", "HTML", 'can\'t parse entities: Unsupported start tag "br" at byte offset 1'),
        ("<b>bold", "HTML", "can't parse entities: Can't find end tag"),
        ("<b>x</i>", "HTML", "can't parse entities: Unmatched end tag"),
        ("1 < 2", "HTML", "can't parse entities: Unsupported start tag"),
        ("Tom & Jerry", "HTML", "can't parse entities: Unsupported HTML entity"),
        ("<a href='x' onclick='y'>z</a> <p>", "HTML", 'Unsupported start tag "p"'),
    ],
)
async def test_text_rules(
    bot: Bot, alice: FakeUser, text: str, parse_mode: str | None, error: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(alice.id, text, parse_mode=parse_mode)
    assert error.casefold() in caught.value.message.casefold()


async def test_long_text_counts_after_entity_parsing(bot: Bot, alice: FakeUser) -> None:
    sent = await bot.send_message(alice.id, "<b>" + "&amp;" * 4096 + "</b>", parse_mode="HTML")
    assert sent.text is not None
    assert len(sent.text) == 4096


async def test_caption_too_long(bot: Bot, alice: FakeUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(alice.id, b"data", filename="a.txt", caption="c" * 1025)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        (keyboard(("x", "d" * 65)), "BUTTON_DATA_INVALID"),
        (keyboard(("x", "é" * 33)), "BUTTON_DATA_INVALID"),  # 66 bytes in UTF-8
        (
            InlineKeyboardMarkup([[InlineKeyboardButton("x", url="javascript:alert(1)")]]),
            "BUTTON_URL_INVALID",
        ),
        (
            InlineKeyboardMarkup([[InlineKeyboardButton("x", url="ftp://example.com")]]),
            "BUTTON_URL_INVALID",
        ),
    ],
)
async def test_keyboard_rules(
    bot: Bot, alice: FakeUser, markup: InlineKeyboardMarkup, error: str
) -> None:
    with pytest.raises(BadRequest, match=rf"(?i){error}"):
        await bot.send_message(alice.id, "hi", reply_markup=markup)


async def test_keyboard_shape_rules(emu: Emulator, alice: FakeUser) -> None:
    async def send(markup: object) -> str:
        async with httpx.AsyncClient() as client:
            url = f"{emu.base_url}{TOKEN}/sendMessage"
            body = {"chat_id": alice.id, "text": "hi", "reply_markup": markup}
            resp = await client.post(url, json=body)
        assert resp.status_code == 400
        return str(resp.json()["description"])

    assert "Array of Arrays" in await send({"inline_keyboard": [{"text": "x"}]})
    assert "Text buttons are unallowed" in await send({"inline_keyboard": [[{"text": "x"}]]})
    both = {"text": "x", "callback_data": "a", "url": "https://example.com"}
    assert "exactly one" in await send({"inline_keyboard": [[both]]})


async def test_valid_url_buttons(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("site", url="https://example.com/x")],
            [InlineKeyboardButton("deep", url="tg://resolve?domain=tso_demo_bot")],
        ]
    )
    await bot.send_message(alice.id, "links", reply_markup=markup)
    record = emu.last_bot_message(alice.id)
    assert record is not None
    assert [b.url for b in record.buttons] == [
        "https://example.com/x",
        "tg://resolve?domain=tso_demo_bot",
    ]


async def test_chat_rules(bot: Bot, emu: Emulator) -> None:
    bob = emu.add_user("Bob")
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(bob.id, "hello")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "hello")
    await emu.send_text(bob.id, "salut")
    emu.block(bob.id)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(bob.id, "hello")
    emu.unblock(bob.id)
    assert (await bot.send_message(bob.id, "hello")).text == "hello"


# -- updates, long polling, webhook ------------------------------------------------------------


async def test_user_command_update(bot: Bot, emu: Emulator) -> None:
    carol = emu.add_user("Carol", language_code="fr")
    await emu.send_text(carol.id, "/start tok_123")
    (update,) = await bot.get_updates()
    message = update.message
    assert message is not None
    assert message.text == "/start tok_123"
    assert message.from_user is not None
    assert message.from_user.language_code == "fr"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 6)]
    assert (await bot.get_updates(offset=update.update_id + 1)) == ()


async def test_long_poll_returns_promptly(bot: Bot, emu: Emulator) -> None:
    dave = emu.add_user("Dave")

    async def later() -> None:
        await asyncio.sleep(0.1)
        await emu.send_text(dave.id, "hi")

    task = asyncio.create_task(later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert len(updates) == 1
    assert time.monotonic() - started < 1.0
    await task


async def test_long_poll_times_out(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 2.0


async def test_non_text_updates(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    await emu.send_sticker(alice.id)
    await emu.send_location(alice.id, 45.0, 5.0)
    updates = await bot.get_updates()
    kinds = [(u.message.text, u.message.sticker, u.message.location) for u in updates if u.message]
    assert kinds[0][0] == "/start"
    assert kinds[1][1] is not None
    assert kinds[1][1].emoji == "👍"
    assert kinds[2][2] is not None
    assert kinds[2][2].latitude == 45.0


async def test_webhook_delivery(bot: Bot, emu: Emulator) -> None:
    received: list[tuple[dict[str, object], str | None]] = []
    fail_first = [True]

    async def hook(request: web.Request) -> web.Response:
        if fail_first.pop() if fail_first else False:
            return web.Response(status=500)  # the emulator must retry
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(BadRequest, match=r"(?i)bad webhook"):
            await bot.set_webhook("https://example.com/hook")
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(Exception, match=r"(?i)can't use getUpdates method while webhook"):
            await bot.get_updates()
        erin = emu.add_user("Erin")
        await emu.send_text(erin.id, "/start")
        await emu.wait_for(lambda: len(received) == 1, timeout=3, description="webhook POST")
        payload, secret = received[0]
        assert secret == "s3cret"
        assert payload["message"]["text"] == "/start"  # type: ignore[index]
        await emu.settle(erin.id)  # delivered == fetched
        await bot.delete_webhook()
        assert await bot.get_updates() == ()
    finally:
        await runner.cleanup()


async def test_delete_webhook_drops_pending(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    assert emu.pending_updates == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert emu.pending_updates == 0


# -- faults and flood control -----------------------------------------------------------------


async def test_rate_limit_fault(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    emu.faults.rate_limit(2, retry_after=7)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(alice.id, "x")
        assert caught.value.retry_after == 7
    await bot.send_message(alice.id, "ok")
    assert emu.stats.rate_limited == 2
    assert emu.stats.calls["sendMessage"] == 3


async def test_server_error_fault(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    emu.faults.server_error(1)
    emu.faults.server_error(1, status=500)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(alice.id, "x")
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(alice.id, "x")
    await bot.get_me()  # not an action method: unaffected
    await bot.send_message(alice.id, "ok")
    assert [m.text for m in emu.bot_messages(alice.id)] == ["ok"]


async def test_delay_fault(bot: Bot, emu: Emulator, alice: FakeUser) -> None:
    emu.faults.delay(0.3, count=1)
    started = time.monotonic()
    await bot.send_message(alice.id, "slow")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await bot.send_message(alice.id, "fast")
    assert time.monotonic() - started < 0.3


async def test_global_rate_enforcement() -> None:
    emulator = Emulator(TOKEN, global_rate=5, per_chat_rate=None)
    await emulator.start()
    try:
        user = emulator.add_user("Fay")
        await emulator.send_text(user.id, "/start")
        async with Bot(TOKEN, base_url=emulator.base_url) as tg_bot:
            results = await asyncio.gather(
                *(tg_bot.send_message(user.id, str(i)) for i in range(8)), return_exceptions=True
            )
        limited = [r for r in results if isinstance(r, RetryAfter)]
        assert len(limited) == 3
        assert emulator.stats.rate_limited == 3
        assert emulator.stats.max_per_window() == 5
    finally:
        await emulator.stop()


async def test_per_chat_rate_enforcement() -> None:
    emulator = Emulator(TOKEN, per_chat_rate=1)
    await emulator.start()
    try:
        one, two = emulator.add_user("One"), emulator.add_user("Two")
        for user in (one, two):
            await emulator.send_text(user.id, "/start")
        async with Bot(TOKEN, base_url=emulator.base_url) as tg_bot:
            await tg_bot.send_message(one.id, "a")
            await tg_bot.send_message(two.id, "a")  # other chat: fine
            with pytest.raises(RetryAfter):
                await tg_bot.send_message(one.id, "b")
    finally:
        await emulator.stop()


# -- clock, events, reset -----------------------------------------------------------------------


async def test_clock_events_and_reset() -> None:
    fixed = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
    emulator = Emulator(TOKEN, clock=lambda: fixed)
    await emulator.start()
    events = emulator.subscribe()
    try:
        user = emulator.add_user("Gus")
        await emulator.send_text(user.id, "/start")
        async with Bot(TOKEN, base_url=emulator.base_url) as tg_bot:
            sent = await tg_bot.send_message(user.id, "hello")
            assert sent.date == fixed
            await tg_bot.edit_message_text("hello!", chat_id=user.id, message_id=sent.message_id)
            await tg_bot.delete_message(user.id, sent.message_id)
        seen = [events.get_nowait() for _ in range(events.qsize())]
        assert [e["type"] for e in seen] == ["user_message", "bot_message", "edited", "deleted"]
        assert json.loads(json.dumps(seen))[1]["message"]["text"] == "hello"
        emulator.reset()
        assert events.get_nowait()["type"] == "reset"
        assert emulator.users == []
        assert emulator.pending_updates == 0
    finally:
        emulator.unsubscribe(events)
        await emulator.stop()


async def test_routes_mount_in_another_app() -> None:
    emulator = Emulator(TOKEN)
    app = web.Application()
    emulator.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    emulator.set_origin(f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        async with Bot(TOKEN, base_url=emulator.base_url) as tg_bot:
            assert (await tg_bot.get_me()).username == "tso_demo_bot"
    finally:
        await emulator.stop()
        await runner.cleanup()


async def test_wait_for_timeout_is_descriptive(emu: Emulator) -> None:
    with pytest.raises(TimeoutError, match=r"(?i)never"):
        await emu.wait_for(lambda: False, timeout=0.1, description="never")


async def test_settle_reports_missing_poller(emu: Emulator) -> None:
    hal = emu.add_user("Hal")
    await emu.send_text(hal.id, "hi")
    with pytest.raises(TimeoutError, match=r"(?i)not fetched by the bot"):
        await emu.settle(hal.id, timeout=0.2)


# -- a real PTB Application with long polling ---------------------------------------------------


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    args = " ".join(context.args or [])
    await update.effective_message.reply_html(
        f"<b>echo</b> {args}", reply_markup=keyboard(("Plus", "more"), ("Fin", "end"))
    )


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"got {query.data}")
    await query.edit_message_text(f"pressed {query.data}")


async def _slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await asyncio.sleep(0.4)  # longer than settle's quiet period
    assert update.effective_message is not None
    await update.effective_message.reply_text("done thinking")


@pytest.fixture
async def app(emu: Emulator) -> AsyncIterator[Application]:
    application = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).build()
    application.add_handler(CommandHandler("echo", _echo))
    application.add_handler(CommandHandler("slow", _slow))
    application.add_handler(CallbackQueryHandler(_on_button))
    async with polling_application(application):
        yield application


async def test_application_with_polling(app: Application, emu: Emulator) -> None:
    ivy = emu.add_user("Ivy")
    started = time.monotonic()
    (reply,) = await emu.send_text_and_wait(ivy.id, "/echo salut")
    assert time.monotonic() - started < 0.5
    assert reply.html == "<b>echo</b> salut"
    assert [b.text for b in reply.buttons] == ["Plus", "Fin"]

    started = time.monotonic()
    (edited,) = await emu.press_and_wait(ivy.id, reply.message_id, text_contains="fin")
    assert time.monotonic() - started < 0.5
    assert edited.message_id == reply.message_id
    assert (edited.text, edited.edit_count, edited.keyboard) == ("pressed end", 1, [])
    assert emu.callback_answers[-1].text == "got end"
    assert emu.unsupported_calls == []

    # A second round trip, to prove the offset handling keeps things flowing.
    (again,) = await emu.send_text_and_wait(ivy.id, "/echo encore")
    assert again.text == "echo encore"


async def test_expect_waits_for_slow_handlers(app: Application, emu: Emulator) -> None:
    jay = emu.add_user("Jay")
    (reply,) = await emu.send_text_and_wait(jay.id, "/slow", expect=1)
    assert reply.text == "done thinking"


async def test_bot_copes_with_non_text_messages(app: Application, emu: Emulator) -> None:
    kim = emu.add_user("Kim")
    await emu.send_sticker(kim.id)
    await emu.send_photo_from_user(kim.id, caption="look")
    await emu.settle(kim.id)
    assert emu.bot_messages(kim.id) == []
