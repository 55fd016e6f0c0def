"""Logging set-up: phone numbers never reach the logs in clear, request bodies never at all."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

# E.164-looking runs of digits, 8-15 digits, with or without a `+` (also URL-encoded, `%2B`, as
# in a form body). Masked as a safety net behind the explicit `phones.mask` calls, so a careless
# log line cannot leak a caller. A `+` or `%2B` counts even after a letter (`From=%2B1...`).
_NUMBER = re.compile(r"(?:(\+|%2[Bb])|(?<![\w.]))(\d)(\d{3,10})(\d{4})(?!\d|\.\d)")
# A bare 10- or 13-digit run starting with 1 is a Unix time in seconds or milliseconds
# (2001-2033), never a number: North American numbers are 10 digits with a first digit of 2-9,
# or 11 with the country code 1, and no other country code starts with 1.
_UNIX_TIME_LENGTHS = (10, 13)

# Bolt logs a failed signature check at INFO with the whole raw body: message texts, and
# slash-command text with numbers URL-encoded. A stale timestamp or a rotated secret would put
# every request's customer data in the logs; the timestamp alone is what diagnoses those.
_BOLT_SIGNATURE = re.compile(r"Invalid request signature detected \(signature: .*?, timestamp: (\S*?), body: ", re.S)
BOLT_LOGGERS = ("slack_bolt.RequestVerification",)


def mask_numbers(text: str) -> str:
    """Replace phone-number-looking digit runs, keeping the first and the last four digits."""
    return _NUMBER.sub(_masked, text)


def _masked(m: re.Match[str]) -> str:
    plus, first, middle, last = m.group(1) or "", m.group(2), m.group(3), m.group(4)
    if not plus and first == "1" and len(first + middle + last) in _UNIX_TIME_LENGTHS:
        return m.group(0)
    return f"{plus}{first}******{last}"


def without_request_body(message: str) -> str:
    """Bolt's signature-failure line with its signature and body cut off; other lines unchanged."""
    found = _BOLT_SIGNATURE.match(message)
    if found is None:
        return message
    return f"Invalid request signature detected (timestamp: {found.group(1)}; body not logged)"


class MaskingFilter(logging.Filter):
    """Rewrites a record's message: no request body, no number in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_numbers(without_request_body(record.getMessage()))
        record.args = ()
        return True


# Bolt warns "As you gave `client` as well, `token` will be unused" at every start when
# SLACK_BOT_TOKEN is in the environment (it reads the variable itself): we give it our client
# on purpose, so the line only alarms operators.
_BOLT_SPURIOUS = ("As you gave `client` as well, `token` will be unused.",)


class _DropSpurious(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in _BOLT_SPURIOUS


def guard_framework_loggers() -> None:
    """Rewrite Bolt's body-carrying lines where they are made, before any handler sees them,
    and drop its one spurious start-up warning.

    A filter on the logger itself also covers handlers added by others (pytest's capture, an
    embedding application), which the filter on `configure`'s handler does not. Idempotent.
    """
    for name in BOLT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())
    for name in ("slack_bolt.AsyncApp", "slack_bolt.App"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropSpurious) for f in logger.filters):
            logger.addFilter(_DropSpurious())


# The job a line was logged from (the engine sets it while a job runs): its kind and id.
current_job: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("current_job", default=None)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")


class TextFormatter(logging.Formatter):
    """`time level logger: message [job kind id]`, tracebacks included, numbers masked in all."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        job = current_job.get()
        if job is not None:
            head, _, rest = line.partition("\n")
            line = f"{head} [job {job[0]} {job[1]}]" + (f"\n{rest}" if rest else "")
        return mask_numbers(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the job's
    kind and id when logged from a job, the traceback as `exc`; numbers masked everywhere."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_numbers(record.getMessage()),
        }
        job = current_job.get()
        if job is not None:
            entry["job_kind"], entry["job_id"] = job
        if record.exc_info:
            entry["exc"] = mask_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int | str = logging.INFO, fmt: str = "text") -> None:
    """Log to stderr with numbers masked: plain lines, or one JSON object per line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(MaskingFilter())
    level = logging.getLevelName(level) if isinstance(level, str) else level
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    guard_framework_loggers()
    # aiohttp's access log prints query strings, which carry line numbers.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # twilio-python logs every request's URL, query and headers at INFO.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    # The Slack SDK formats each request and response (the whole card) for its DEBUG line
    # whenever its own logger has no level set, since it tests logger.level rather than the
    # effective level; the text was then dropped. An explicit level skips that work.
    logging.getLogger("slack_sdk.web.async_base_client").setLevel(level)
