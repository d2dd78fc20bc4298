"""The long-running processes: `housing serve`, `worker`, `ingest`, `simulate`."""

from typing import Annotated

import typer

from housing.cli.common import console, settings_or_exit

SHUTDOWN_GRACE_SECONDS = 10  # requests still running when the web process is told to stop


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes")] = 1,
) -> None:
    """Run the web process (API, pages, webhooks)."""
    import uvicorn

    settings_or_exit()  # fail fast on bad configuration, before uvicorn forks
    uvicorn.run(
        "housing.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=_web_log_config(),
        # Open live building views (server-sent events) never end by themselves: uvicorn would
        # wait for them forever before shutting down. After this long they are cancelled; the
        # browsers reconnect to another process and resume (docs/digital-twin.md).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


def _web_log_config() -> dict:
    """uvicorn's logging plus our packages' INFO lines (a webhook's outcome) on stderr, in every worker."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["housing"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["housing"] = {
        "class": "logging.StreamHandler",
        "formatter": "housing",
        "stream": "ext://sys.stderr",
    }
    for package in ("housing", "sensors", "billing"):
        config["loggers"][package] = {"handlers": ["housing"], "level": "INFO", "propagate": False}
    return config


def worker() -> None:
    """Run the scheduler process (exactly one per installation)."""
    from housing.scheduler import run_forever

    run_forever(settings_or_exit())


def ingest() -> None:
    """Run an MQTT ingest process (any number, each with its own name HOUSING_MQTT__CLIENT_ID)."""
    from housing.db import make_engine
    from sensors.ingest.worker import run_ingest

    settings = settings_or_exit()
    run_ingest(make_engine(settings), settings.mqtt)


def simulate(
    rate: Annotated[float, typer.Option(help="Messages a second")] = 100.0,
    seconds: Annotated[float | None, typer.Option(help="Stop after this long")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages")] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject a fault (repeatable): duplicates, out_of_order, garbage, leak, lukewarm, cold_flat"
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Broker host (default: HOUSING_MQTT__HOST or 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Broker port (default: HOUSING_MQTT__PORT)")] = None,
    protocol: Annotated[int | None, typer.Option(help="5 (MQTT 5) or 4 (MQTT 3.1.1)")] = None,
    username: Annotated[str | None, typer.Option(envvar="HOUSING_SIMULATOR_USERNAME")] = None,
    password: Annotated[str | None, typer.Option(envvar="HOUSING_SIMULATOR_PASSWORD")] = None,
    contract: Annotated[
        str, typer.Option(help="Device contract: v2 (partitioned topics) or v1 (the old topics)")
    ] = "v2",
) -> None:
    """Publish realistic readings for the seeded smart meters and sensors, as devices would.

    A message counts as acknowledged only when the broker accepted it for delivery: at
    MQTT 5 a PUBACK "no matching subscribers" (0x10) is reported as dropped. An MQTT 3.1.1
    broker cannot tell a publisher that, so at protocol 4 drops are invisible here."""
    import logging

    from sensors.simulator.publisher import PublisherError
    from sensors.simulator.run import run_simulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        summary = run_simulator(
            settings_or_exit(), rate=rate, seconds=seconds, count=count, faults=fault or (),
            host=host, port=port, protocol=protocol, username=username, password=password,
            contract=contract,
        )  # fmt: skip
    except (ValueError, PublisherError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(summary)
