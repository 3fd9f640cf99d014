"""`cpq worker`: send the order outbox to order management until stopped (SIGTERM or Ctrl-C)."""

from __future__ import annotations

import logging
import signal
import sys

import click

from cpq import config, store
from cpq.errors import CPQError
from cpq.orders.connectors import make_connector
from cpq.orders.settings import OrderSettings
from cpq.orders.worker import JsonLogFormatter, OutboxWorker


def _json_logs() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("cpq.orders")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


@click.command("worker")
@click.option("--until-idle", is_flag=True, help="Stop once no order is waiting to be sent (for scripts and tests).")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Messages claimed at a time.")
@click.option("--name", help="Worker name in the logs and claims (default host:pid:random).")
def worker_command(until_idle: bool, batch: int, name: str | None) -> None:
    """Send accepted quotes' orders from the outbox (CPQ_OMS_CONNECTOR), with retries; logs are JSON lines."""
    _json_logs()
    settings_map = config.from_environment()
    settings = OrderSettings.from_config(settings_map)
    engine = store.make_engine(settings_map["DATABASE_URL"])
    try:
        connector = make_connector(settings, engine)
    except CPQError as exc:
        raise click.ClickException(exc.detail) from None
    worker = OutboxWorker(engine, connector, settings, name=name, batch=batch)

    def stop(signum, _frame):
        logging.getLogger("cpq.orders.worker").info(
            "worker.signal", extra={"fields": {"worker": worker.name, "signal": signal.Signals(signum).name}})
        worker.stop.set()  # the message being sent is finished first

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker.run(until_idle=until_idle)
    finally:
        connector.close()
        engine.dispose()


def register(main: click.Group) -> None:
    main.add_command(worker_command)
