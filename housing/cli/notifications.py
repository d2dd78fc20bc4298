"""`housing notifications send`: the notification sender as a process of its own."""

from typing import Annotated

import typer

from housing.cli.common import console, settings_or_exit

notifications_app = typer.Typer(help="Notifications: deliver the outbox", no_args_is_help=True)


@notifications_app.command()
def send(
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then exit")] = False,
    idle: Annotated[float, typer.Option(min=0.05, max=60, help="Seconds to wait when nothing is due")] = 2.0,
) -> None:
    """Deliver notifications on every configured channel until SIGTERM or Ctrl-C.

    Any number may run beside each other and beside the scheduler's `send-notifications`
    job: each delivery is claimed by one sender. A stop lets the step under way record
    its outcomes, then exits 0.
    """
    import logging
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # first: a stop during start-up is clean too
        signal.signal(signum, lambda *_: stop.set())

    from housing.db import make_engine
    from housing.notifications.jobs import run_sender, summary

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = settings_or_exit()
    engine = make_engine(settings)
    console.print("notification sender started", highlight=False)
    try:
        total = run_sender(engine, settings, stop=stop, once=once, idle_s=idle)
    finally:
        engine.dispose()
    console.print(f"notification sender stopped: {summary(total)}", highlight=False)
