"""The run's console output: one short line per message, tracebacks only when asked for.

Dagster's own console logger prints every event at DEBUG, with its whole SQL-laden message and
the stack of each failure. This logger prints messages at INFO and above (the layers' progress,
warnings, the run's summary), each as `time LEVEL asset message`, and a failed step as its cause
in one line. With `log_level: DEBUG` in the run config's `loggers.console.config` (what
`./scripts/demo.sh --verbose` sets) it prints Dagster's full log, stacks included. Every event is
kept in the run's event log whatever this logger prints.
"""

from __future__ import annotations

import logging
import sys

from dagster import DagsterEvent, Field, InitLoggerContext, logger

META = "dagster_meta"


def asset_of_step(step_key: str | None) -> str:
    """`raw__crm_1__account` -> `raw/crm_1__account` (a step builds the asset `[schema, table]`)."""
    if not step_key:
        return ""
    schema, _, table = step_key.partition("__")
    return f"{schema}/{table}" if table else schema


def error_line(event: DagsterEvent) -> str:
    """A failed step's cause in one line: the innermost error's message, without its stack."""
    error = event.step_failure_data.error if event.is_step_failure else None
    if error is None:
        return ""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    kind, sep, rest = message.partition(": ")
    if sep and "." in kind and " " not in kind:
        message = rest
    return one_line(message)


def one_line(text: str) -> str:
    """The lines of a message joined into one."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class ConciseFormatter(logging.Formatter):
    """`17:42:45 WARNING raw/crm_2__opportunity quarantined 4 of 10 rows ...`."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, META, None) or {}
        event = meta.get("dagster_event")
        message = meta.get("orig_message") or record.getMessage()
        if event is not None and event.is_step_failure:
            message = f"failed: {error_line(event)}"
        where = asset_of_step(meta.get("step_key"))
        stamp = self.formatTime(record, "%H:%M:%S")
        return " ".join(part for part in (stamp, f"{record.levelname:<7}", where, message) if part)


class SummarizedSkips(logging.Filter):
    """Drops Dagster's line per step not executed because an input failed: the run's summary
    lists them together."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, META, None) or {}
        message = str(meta.get("orig_message") or "")
        return not (message.startswith("Dependencies for step") and "Not executing" in message)


@logger(
    config_schema={
        "log_level": Field(
            str,
            default_value="INFO",
            description="INFO: progress, warnings and the summary; DEBUG: Dagster's full log.",
        )
    },
    description="Short lines on stderr: progress per layer, warnings, failures, the summary.",
)
def concise_console_logger(init_context: InitLoggerContext) -> logging.Logger:
    """A logger at the configured level; at DEBUG it keeps Dagster's detailed format."""
    level = logging.getLevelName(str(init_context.logger_config["log_level"]).upper())
    if not isinstance(level, int):
        level = logging.INFO
    log = logging.Logger("b2b_assets", level)
    handler = logging.StreamHandler(sys.stderr)
    if level <= logging.DEBUG:
        handler.setFormatter(logging.Formatter("%(asctime)s - %(levelname)s - %(message)s"))
    else:
        handler.setFormatter(ConciseFormatter())
        handler.addFilter(SummarizedSkips())
    log.addHandler(handler)
    return log
