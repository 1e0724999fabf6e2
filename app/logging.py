"""structlog set-up: key-value lines for people, JSON for machines. Secrets never reach it."""

from __future__ import annotations

import logging
import sys

import structlog


class StderrLogger:
    """Writes each line to the ``sys.stderr`` of the moment (a test runner swaps it; a logger
    created earlier must not keep a closed stream)."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def configure(level: str = "INFO", json: bool = False) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # stderr: a command's stdout carries its output alone (relais simulate's JSON), and a
        # logger cached before a test swaps the streams keeps writing where logs belong.
        logger_factory=lambda *_: StderrLogger(),
        cache_logger_on_first_use=True,
    )
