"""`housing bot`: the bot as a process of its own, asking the Bot API for updates (long polling).

Long polling and a webhook exclude each other, so polling starts by deleting any webhook
(and publishes the command menu in each language).
An update is confirmed by the next getUpdates after it was handled (and on stopping), so only
a process killed mid-batch gets some again on restart (the steps refuse doubles: one reading
a day, a request filed twice the same day, a used link code). A server that does not answer is
asked again after a pause that grows to a minute.
"""

import logging
import threading

from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException

from housing.bot.commands import publish_menu

log = logging.getLogger(__name__)

MAX_PAUSE_S = 60


def run_polling(bot: TeleBot, *, stop: threading.Event, wait_s: int = 25) -> None:
    """Handles updates until `stop` is set; `wait_s` is how long one getUpdates may wait for news."""
    pause = 1.0
    offset: int | None = None
    started = False
    while not stop.is_set():
        try:
            if not started:
                bot.delete_webhook()
                _publish_menu(bot)
                log.info("the bot is polling for updates")
                started = True
            updates = bot.get_updates(offset=offset, timeout=wait_s + 10, long_polling_timeout=wait_s)
        except (ApiException, RequestException) as exc:
            log.warning("the Bot API did not answer (%s); asking again in %.0fs", exc, pause)
            stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
            continue
        pause = 1.0
        for update in updates:
            if stop.is_set():
                break  # the rest is not confirmed: handled after a restart
            try:
                bot.process_new_updates([update])
            except Exception:  # a bug in one update must not stop the bot for everyone
                log.exception("update %s failed", update.update_id)
            offset = update.update_id + 1
    _confirm(bot, offset)


def _publish_menu(bot: TeleBot) -> None:
    try:
        publish_menu(bot)
    except (ApiException, RequestException) as exc:  # the bot works without its menu
        log.warning("could not publish the command menu: %s", exc)


def _confirm(bot: TeleBot, offset: int | None) -> None:
    """Tells the server which updates were handled, so a restart does not get them again."""
    if offset is None:
        return
    try:
        bot.get_updates(offset=offset, limit=1, timeout=10, long_polling_timeout=1)
    except (ApiException, RequestException) as exc:
        log.warning("could not confirm the handled updates (%s); the last ones come again", exc)
