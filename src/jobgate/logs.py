"""Structured logs: one key=value line per event, through the standard logging module."""

import logging
import sys

import structlog

# Spyne logs whole request bodies (passwords included) at ERROR when XML is malformed, and client
# faults with tracebacks: jobgate logs its own line per request instead.
_QUIET = (
    "spyne",
    "spyne.protocol.soap.soap11.invalid",
    "spyne.application.client",
    "spyne.application.server",
)


def configure(level: str = "info") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "logger", "event"]),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    logging.getLogger("uvicorn.access").disabled = True  # jobgate writes its own access line
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
