"""/aide: everything a family needs, in two screens."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from tso_bot.bot.common import Context, app_ctx, locale_for, send, show
from tso_bot.bot.views import Screen
from tso_bot.i18n import translator
from tso_bot.store import queries
from tso_bot.store.models import Person


def help_screen(locale: str, page: int) -> Screen:
    _ = translator(locale)
    _p = translator(locale, html=False)
    if page == 1:
        text = _(
            "<b>Aide (1/2) — à quoi sert ce bot ?</b>\n\n"
            "Il vous accompagne dans la procédure d'orientation de votre enfant en 3e :\n"
            "1. <b>Intentions provisoires</b> : vous classez de 1 à 3 voies (2de générale "
            "et technologique, 2de professionnelle, 1re année de CAP), puis vous validez.\n"
            "2. Le <b>conseil de classe</b> donne son avis ; vous en accusez réception.\n"
            "3. <b>Choix définitifs</b>, puis réponse aux propositions du conseil.\n"
            "4. Le chef d'établissement prend la <b>décision d'orientation</b>.\n\n"
            "Un seul et même parent fait la saisie ; l'autre responsable et l'élève la "
            "consultent. Chaque validation est confirmée par courriel aux deux responsables."
        )
        button = InlineKeyboardButton(_p("Suite ▶️"), callback_data="h:2")
    else:
        text = _(
            "<b>Aide (2/2) — les commandes</b>\n\n"
            "/dossier — voir le dossier et agir\n"
            "/calendrier — les dates de chaque étape\n"
            "/langue — changer de langue\n"
            "/oublier — délier ce compte Telegram\n"
            "/aide — cette aide\n\n"
            "Touchez les boutons sous les messages pour choisir. Une question ? Le "
            "professeur principal de votre enfant vous répond, et le secrétariat peut "
            "vous aider à faire la saisie."
        )
        button = InlineKeyboardButton(_p("◀️ Retour"), callback_data="h:1")
    return Screen(text, InlineKeyboardMarkup([[button]]))


STAFF_ROLES = ("pp", "chef", "secretariat")


def staff_help_screen(locale: str, role: str) -> Screen:
    """For staff: what they can do here, by role."""
    _ = translator(locale)
    parts = [_("<b>Aide pour l'équipe de l'établissement</b>")]
    if role == "pp":
        parts.append(
            _(
                "/dossier — votre classe : l'état de chaque élève. Touchez un élève pour saisir "
                "l'avis du conseil de classe (oui / non par voie demandée, un commentaire tapé "
                "en message, des voies proposées), puis « Enregistrer ». Possible après la "
                "fermeture de la saisie des familles, tant que l'avis n'est pas transmis."
            )
        )
    elif role == "chef":
        parts.append(
            _(
                "/dossier — toutes les classes, l'avis du conseil comme un professeur principal, "
                "et les décisions d'orientation à prendre : une voie ou le maintien, avec un "
                "motif tapé en message quand la décision diffère de la demande de la famille. "
                "Les appels des familles vous sont transmis."
            )
        )
    else:
        parts.append(
            _(
                "/dossier — les classes et l'état de chaque élève, pour aider les familles. La "
                "saisie reste celle des familles : le secrétariat ne saisit pas à leur place."
            )
        )
    parts.append(
        _(
            "Les familles reçoivent chaque étape par Telegram et par courriel. Le suivi complet "
            "se fait avec la ligne de commande de l'établissement (tso-bot status, tso-bot "
            "export)."
        )
    )
    return Screen("\n\n".join(parts))


async def _person(update: Update, context: Context) -> Person | None:
    chat = update.effective_chat
    assert chat is not None
    async with app_ctx(context).db.transaction() as s:
        return await queries.person_by_chat(s, chat.id)


async def _locale(update: Update, context: Context) -> str:
    return locale_for(update, await _person(update, context))


async def on_help(update: Update, context: Context) -> None:
    person = await _person(update, context)
    if person is not None and person.role in STAFF_ROLES:
        await send(update, staff_help_screen(person.locale, person.role))
        return
    await send(update, help_screen(locale_for(update, person), 1))


async def on_help_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    page = 2 if query.data == "h:2" else 1
    await show(query, help_screen(await _locale(update, context), page))
