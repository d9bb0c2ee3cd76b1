"""Issue 3, must show 2: the demo page in a real headless Chromium.

The demo server runs in this process (`start_demo`), the browser is Debian's Chromium driven
by Playwright; everything a visitor does is a click or a key press on the page. Screenshots
of the wide and the phone-sized layouts are saved under `artifacts/`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, ViewportSize, async_playwright, expect

from tso_bot.domain.calendar import Step
from tso_bot.sandbox.demo import DemoServer, start_demo
from tso_bot.sandbox.demo_seed import jump_targets

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (containers), and nothing that would reach the network on its own.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
expect.set_options(timeout=10_000)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoServer]:
    server = await start_demo(port=0, data_dir=tmp_path / "demo-data")
    yield server
    await server.stop()
    assert server.emulator.unsupported_calls == [], "a Bot API method outside CONTRACT.md"


async def open_page(
    browser: Browser, demo: DemoServer, viewport: ViewportSize
) -> tuple[Page, list[str]]:
    """The page, loaded and synchronised, and the list its errors will be written to."""
    page = await browser.new_page(viewport=viewport, locale="fr-FR")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await page.goto(demo.url)
    await page.wait_for_selector("body[data-ready=true]")
    return page, problems


async def press(message: Locator, label: str) -> None:
    await message.get_by_role("button", name=label).click()


async def type_in(phone: Locator, name: str, text: str) -> None:
    await phone.get_by_label(f"Message de {name}").fill(text)
    await phone.get_by_role("button", name="Envoyer").click()


def screenshot(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


async def test_guardian_journey_in_the_browser(browser: Browser, demo: DemoServer) -> None:
    started = time.monotonic()
    page, problems = await open_page(browser, demo, WIDE)
    anne = page.locator("#panel-parent1")
    paul = page.locator("#panel-parent2")
    zoe = page.locator("#panel-eleve")
    await expect(page.locator("#clock-now")).to_have_text("mardi 27 février 2024, 10:00")
    await expect(paul.locator(".chat")).to_contain_text("Bonjour Paul Durand")  # seeded

    # Guardian 1 opens her invitation link.
    await expect(anne.locator(".phone-link")).to_have_text("Compte Telegram pas encore relié")
    await anne.get_by_role("button", name="Ouvrir le lien d'invitation").click()
    await expect(anne.locator(".chat")).to_contain_text("Bonjour Anne Martin")
    await expect(anne.locator(".phone-link")).to_have_text("Compte Telegram relié")
    await expect(anne.locator(".invite")).to_be_hidden()

    # She ranks 2PRO > 2GT and validates: one message, edited in place.
    home = anne.locator(".msg.bot").last
    await expect(home).to_contain_text("À faire maintenant")
    bot_messages = await anne.locator(".msg.bot").count()
    await press(home, "Saisir")
    await expect(home).to_contain_text("Votre classement")
    await press(home, "2de professionnelle")
    await expect(home).to_contain_text("1. 2de professionnelle")
    await press(home, "2de générale et technologique")
    await expect(home).to_contain_text("2. 2de générale et technologique")
    await press(home, "Valider")
    await expect(home).to_contain_text("Saisie validée")
    await expect(home.locator(".edited")).to_have_text("modifié")
    assert await anne.locator(".msg.bot").count() == bot_messages

    # Guardian 2 and the pupil are told at once, without a reload, and see it read-only.
    await expect(paul.locator(".chat")).to_contain_text("Anne Martin a validé")
    await expect(zoe.locator(".chat")).to_contain_text("Anne Martin a validé")
    await type_in(paul, "Paul Durand", "/dossier")
    await expect(paul.locator(".msg.bot").last).to_contain_text("lecture seule")
    await zoe.get_by_role("button", name="/dossier").click()
    await expect(zoe.locator(".msg.bot").last).to_contain_text("validée par Anne Martin")
    for phone in (paul, zoe):
        last = phone.locator(".msg.bot").last
        await expect(last.get_by_role("button", name=re.compile("Saisir|Modifier"))).to_have_count(
            0
        )

    # The recap e-mail, in the mail tab: both guardians, HTML and text parts.
    await page.get_by_role("navigation").get_by_role("button", name="E-mails").click()
    mails = page.locator("#panel-mails")
    await expect(mails.locator(".mail-item")).to_have_count(2)
    await expect(mails.locator("#mail-list")).to_contain_text("anne.martin@example.org")
    await mails.locator(".mail-item", has_text="paul.durand@example.org").click()
    await expect(mails.locator("#mail-to")).to_have_text("paul.durand@example.org")
    html = page.frame_locator("#mail-html").locator("body")
    await expect(html).to_contain_text("Zoé Martin")
    await expect(html).to_contain_text("2de professionnelle")
    await mails.get_by_role("button", name="Texte", exact=True).click()
    await expect(mails.locator("#mail-text")).to_contain_text(
        "1. 2de professionnelle\n2. 2de générale et technologique"
    )

    # Anne opens her dossier again: "Modifier" is there while the window is open...
    await press(anne.locator(".msg.bot").last, "Voir le dossier")
    await expect(anne.locator(".msg.bot").last).to_contain_text("validée par Anne Martin")
    await anne.locator(".phone-title").scroll_into_view_if_needed()

    # ...then the clock moves past the close, and the change is refused with the dates.
    after_close = next(
        j for j in jump_targets(demo.calendar) if j.step is Step.INTENTIONS and "clôture" in j.what
    )
    await page.get_by_text("Déplacer l'horloge").click()
    await page.get_by_label("Aller à").select_option(after_close.at.isoformat())
    await page.get_by_role("button", name="Aller", exact=True).click()
    await expect(page.locator("#clock-now")).to_have_text("mardi 12 mars 2024, 00:00")
    await expect(page.locator("#clock-status")).to_contain_text("Aucune étape ouverte")
    await press(anne.locator(".msg.bot").last, "Modifier")
    refusal = anne.locator(".answer")
    await expect(refusal).to_be_visible()
    await expect(refusal).to_contain_text("fermé")
    await expect(refusal).to_contain_text("11 mars 2024")
    await expect(anne.locator(".msg.bot").last).not_to_contain_text("Votre classement")

    await page.screenshot(path=screenshot("demo-wide.png"))
    assert problems == []
    print(f"browser journey: {time.monotonic() - started:.1f}s")


async def see_a_reminder_after_a_jump(page: Page, demo: DemoServer) -> None:
    """The clock jumps to the 7-days reminder: Paul gets it on Telegram, Anne (not linked
    yet) by e-mail."""
    paul, tabs = page.locator("#panel-parent2"), page.get_by_role("navigation")
    seven_days = next(
        j
        for j in jump_targets(demo.calendar)
        if j.step is Step.INTENTIONS and j.what == "Rappel J-7"
    )
    await page.get_by_text("Déplacer l'horloge").click()
    await page.get_by_label("Aller à").select_option(seven_days.at.isoformat())
    await page.get_by_role("button", name="Aller", exact=True).click()
    await expect(page.locator("#clock-now")).to_have_text("lundi 4 mars 2024, 09:00")
    if getattr(demo.runtime, "planner", None) is None:
        return  # a runtime without the reminder planner (before issue 4) sends none
    await expect(paul.locator(".msg.bot").last).to_contain_text("Rappel")
    await expect(paul.locator(".msg.bot").last).to_contain_text("lundi 11 mars 2024, 23:59")
    await tabs.get_by_role("button", name="E-mails").click()
    await expect(page.locator(".mail-item", has_text="anne.martin@example.org")).to_have_count(1)


async def test_phone_layout_reminder_and_reset(browser: Browser, demo: DemoServer) -> None:
    page, problems = await open_page(browser, demo, PHONE)
    anne, paul = page.locator("#panel-parent1"), page.locator("#panel-parent2")
    tabs = page.get_by_role("navigation")

    # One phone at a time, chosen with the tabs.
    await expect(anne).to_be_visible()
    await expect(paul).to_be_hidden()
    await tabs.get_by_role("button", name="Parent 2").click()
    await expect(paul).to_be_visible()
    await expect(anne).to_be_hidden()
    await type_in(paul, "Paul Durand", "/calendrier")
    await expect(paul.locator(".msg.bot").last).to_contain_text("Saisie des intentions")
    await page.screenshot(path=screenshot("demo-phone.png"))

    await see_a_reminder_after_a_jump(page, demo)

    # Anne links; the reset button brings back the seeded school (Anne not linked).
    await tabs.get_by_role("button", name="Parent 1").click()
    await anne.get_by_role("button", name="Ouvrir le lien d'invitation").click()
    await expect(anne.locator(".phone-link")).to_have_text("Compte Telegram relié")
    await page.get_by_role("button", name="Réinitialiser la démo").click()
    await expect(page.get_by_role("button", name="Réinitialiser la démo")).to_be_enabled()
    anne = page.locator("#panel-parent1")
    await expect(anne.locator(".phone-link")).to_have_text("Compte Telegram pas encore relié")
    await expect(anne.locator(".invite")).to_be_visible()
    await expect(anne.locator(".msg")).to_have_count(0)
    await expect(page.locator("#clock-now")).to_have_text("mardi 27 février 2024, 10:00")
    assert problems == []
