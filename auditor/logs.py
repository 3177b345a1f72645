"""Logging set-up for entry points: readable text on a terminal, JSON lines in a cluster.

Each record carries the audit context (target, run id) from a context variable, so a line from a
collector thread still says which audit it belongs to.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from auditor.terminal import printable

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("auditor_log_context", default={})  # noqa: B039


@contextmanager
def log_context(**values: str) -> Iterator[None]:
    """Add key=value pairs (target, run, account, region) to every record logged inside the block."""
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get())


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = _context.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, "ctx", {}),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """One line per record for a terminal; cluster and AWS text in it has its control characters and line breaks
    spelled out, so it can neither drive the terminal nor forge a line (a traceback keeps its own lines, indented)."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = getattr(record, "ctx", {})
        suffix = (" [" + " ".join(f"{k}={v}" for k, v in ctx.items()) + "]") if ctx else ""
        base = printable(f"{record.levelname.lower():7} {record.name}: {record.getMessage()}{suffix}", one_line=True)
        if record.exc_info:  # indented: a line break in an exception's message cannot start a line of its own
            traceback = printable(self.formatException(record.exc_info))
            base += "".join(f"\n  {line}" for line in traceback.splitlines())
        return base


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr (stdout is for output such as JSON reports)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # alembic tells each plugin it sets up and each migration context at INFO: several lines per command that opens the
    # database (`db upgrade` and the service log the revision reached themselves: auditor.store.db)
    for noisy in ("botocore", "boto3", "urllib3", "kubernetes", "werkzeug", "moto", "apscheduler", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
