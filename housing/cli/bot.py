"""`housing bot`: the Telegram bot by long polling, or registering its webhook with Telegram."""

import signal
import threading
from typing import Annotated

import typer

from housing.cli.common import console, settings_or_exit


def bot(
    set_webhook: Annotated[
        str | None,
        typer.Option(help="Register this https URL (ending /telegram/webhook) with Telegram, then exit"),
    ] = None,
    delete_webhook: Annotated[bool, typer.Option(help="Remove the webhook, then exit")] = False,
    wait: Annotated[int, typer.Option(min=1, max=50, help="Seconds one getUpdates waits for news")] = 25,
) -> None:
    """Run the Telegram bot (long polling), or switch it to webhook mode and back."""
    from housing.bot.commands import publish_menu
    from housing.bot.handlers import build_bot
    from housing.bot.polling import run_polling
    from housing.db import make_engine

    settings = settings_or_exit()
    if not settings.notify.telegram_on:
        console.print("[red]Telegram is off:[/red] set HOUSING_NOTIFY__TELEGRAM_TOKEN")
        raise typer.Exit(2)
    telegram = build_bot(make_engine(settings), settings)
    _introduce(telegram, settings.notify.telegram_bot_name)
    if set_webhook:
        secret = settings.notify.telegram_webhook_secret
        if secret is None:
            console.print(
                "[red]Set HOUSING_NOTIFY__TELEGRAM_WEBHOOK_SECRET first[/red]: the web app checks it"
            )
            raise typer.Exit(2)
        telegram.set_webhook(url=set_webhook, secret_token=secret.get_secret_value())
        publish_menu(telegram)
        console.print(f"webhook set: Telegram now posts updates to {set_webhook}")
        return
    if delete_webhook:
        telegram.delete_webhook()
        console.print("webhook removed: run `housing bot` to poll")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    console.print("the bot is polling; stop with Ctrl+C or SIGTERM")
    run_polling(telegram, stop=stop, wait_s=wait)


def _introduce(telegram, bot_name: str | None) -> None:
    """Asks Telegram who the token belongs to: a refused token exits 2, and a bot name that the
    deep links would get wrong is pointed out."""
    from requests import RequestException
    from telebot.apihelper import ApiException

    try:
        me = telegram.get_me()
    except ApiException as exc:
        console.print(f"[red]The Bot API refused the token:[/red] {exc}", markup=False)
        raise typer.Exit(2) from exc
    except RequestException as exc:
        console.print(f"warning: the Bot API did not answer ({exc}); going on", markup=False)
        return
    console.print(f"bot @{me.username}", markup=False, highlight=False)
    if bot_name and bot_name.lstrip("@").lower() != (me.username or "").lower():
        console.print(
            f"warning: HOUSING_NOTIFY__TELEGRAM_BOT_NAME is {bot_name} but the token is @{me.username}'s;"
            " the settings page's links would open the other bot",
            style="yellow",
            markup=False,
        )
