"""The bot's commands that only read or link: /start, /help, /language, /balance, /requests, /stop."""

import re

from telebot import TeleBot, types

from billing.models import DEFAULT_CURRENCY
from housing import i18n
from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.bot import resident
from housing.bot.turn import Turn, chat_language, residents_only
from housing.errors import Invalid
from housing.notifications.linking import link_chat, unlink_chat

LINK_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what `secrets.token_urlsafe` makes


def N_(message: str) -> str:
    """Marks a string for the catalogs; it is translated where it is shown."""
    return message


STATUS_WORDS = {
    "new": N_("new"),
    "accepted": N_("accepted"),
    "in_progress": N_("in progress"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    "rejected": N_("rejected"),
    "deferred": N_("deferred"),
    "reopened": N_("reopened"),
}


# The menu Telegram shows next to the message field (`publish_menu`), and the help's lines.
RESIDENT_COMMANDS = {
    "balance": N_("what you owe and your latest invoice"),
    "reading": N_("send a meter reading"),
    "request": N_("report a problem, with a photo"),
    "requests": N_("your latest requests and their status"),
}
EVERYONE_COMMANDS = {"language": N_("choose the language"), "stop": N_("unlink this chat")}


def publish_menu(bot: TeleBot) -> None:
    """The command menu in each language we speak (Telegram picks it by the user's app language)."""
    for language in i18n.LANGUAGES:
        words = i18n.translations(language).gettext
        menu = [types.BotCommand(name, words(text)) for name, text in (RESIDENT_COMMANDS | EVERYONE_COMMANDS).items()]  # fmt: skip
        bot.set_my_commands(menu, language_code=language)
        if language == i18n.DEFAULT_LANGUAGE:
            bot.set_my_commands(menu)  # for every other app language


def help_text(turn: Turn) -> str:
    _ = turn.gettext
    if turn.actor is None:
        return _(
            "This bot sends the notifications of the My Home service. To link it to your account, "
            "open Settings, Notifications on the website and press Link Telegram."
        )
    lines = [_("Your account %(name)s is linked to this chat.") % {"name": turn.actor.username}]
    shown = (RESIDENT_COMMANDS if turn.actor.role is Role.resident else {}) | EVERYONE_COMMANDS
    lines += [f"/{name} - {_(text)}" for name, text in shown.items()]
    return "\n".join(lines)


def start(turn: Turn, message: types.Message) -> None:
    """`/start <code>`: the deep link from the settings page ties this chat to the account."""
    _ = turn.gettext
    code = (message.text or "").partition(" ")[2].strip()
    if not code:
        turn.say(help_text(turn))
        return
    try:
        if not LINK_CODE.fullmatch(code):  # never sent to the database: NUL bytes, a huge text
            raise Invalid("not a link code")
        user_id = link_chat(turn.session, code=code, chat_id=turn.chat_id, now=turn.now)
    except Invalid:
        turn.say(_("This link is unknown, used or expired. Open a new one from your settings page."))
        return
    user = turn.session.get(User, user_id)
    assert user is not None
    turn.actor = Actor.of(user)
    turn.language = chat_language(
        user.language, message.from_user.language_code if message.from_user else None
    )
    turn.say(_("Linked. You will get your notifications here.") + "\n\n" + help_text(turn))


def stop(turn: Turn, message: types.Message) -> None:
    if turn.actor is not None:
        unlink_chat(turn.session, user_id=turn.actor.user_id)
    turn.say(turn.gettext("This chat is unlinked; no more notifications will come here."))


def language(turn: Turn, message: types.Message) -> None:
    markup = types.InlineKeyboardMarkup()
    for code, name in i18n.LANGUAGE_NAMES.items():
        markup.add(types.InlineKeyboardButton(name, callback_data=f"lang:{code}"))
    turn.say(turn.gettext("Choose your language:"), markup)


def choose_language(turn: Turn, code: str) -> None:
    if code not in i18n.LANGUAGES or turn.actor is None:
        return
    user = turn.session.get(User, turn.actor.user_id)
    assert user is not None
    user.language = code
    turn.session.add(user)
    turn.session.flush()
    turn.language = code
    turn.say(turn.gettext("Done: from now on I write in this language."))


def balance(turn: Turn, message: types.Message) -> None:
    residents_only(turn)
    assert turn.actor is not None
    _ = turn.gettext
    homes = resident.homes(turn.session, turn.actor, turn.today)
    if not homes:
        turn.say(_("No apartment is registered to you today."))
        return
    site = turn.settings.notify.site_url.rstrip("/")
    parts = []
    for home in homes:
        owed = home.owed_minor
        money = i18n.money(
            abs(owed), home.invoice.currency if home.invoice else DEFAULT_CURRENCY, turn.language
        )
        lines = [f"{home.address}, {home.apartment.number}"]
        if owed > 0:
            lines.append(_("To pay: %(amount)s") % {"amount": money})
        elif owed < 0:
            lines.append(_("Paid in advance: %(amount)s") % {"amount": money})
        else:
            lines.append(_("Nothing to pay."))
        invoice = home.invoice
        if invoice is not None:
            lines.append(
                _("Latest invoice %(number)s for %(month)s: %(amount)s, due by %(due)s.")
                % {
                    "number": invoice.number,
                    "month": i18n.month(invoice.period, turn.language),
                    "amount": i18n.money(invoice.total_minor, invoice.currency, turn.language),
                    "due": i18n.day(invoice.due_date, turn.language),
                }
            )
            lines.append(f"{site}/invoices/{invoice.id}")
        parts.append("\n".join(lines))
    turn.say("\n\n".join(parts))


def requests(turn: Turn, message: types.Message) -> None:
    residents_only(turn)
    assert turn.actor is not None
    _ = turn.gettext
    rows = resident.recent_requests(turn.session, turn.actor, turn.today)
    if not rows:
        turn.say(_("You have no requests yet. Send /request to report a problem."))
        return
    site = turn.settings.notify.site_url.rstrip("/")
    lines = []
    for row in rows:
        status = _(STATUS_WORDS.get(str(row.request.status), str(row.request.status)))
        lines.append(
            _("No. %(number)s, %(category)s: %(status)s")
            % {"number": row.request.id, "category": row.category_name, "status": status}
            + f"\n{site}/requests/{row.request.id}"
        )
    turn.say("\n\n".join(lines))
