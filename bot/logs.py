"""Logging set-up: phone numbers never reach the logs in clear."""

from __future__ import annotations

import logging
import re

# E.164-looking runs of digits (with or without +), 8-15 digits. Masked as a safety net
# behind the explicit `phones.mask` calls, so a careless log line cannot leak a caller.
_NUMBER = re.compile(r"(?<![\w.])(\+?\d)\d{3,10}(\d{4})(?!\d|\.\d)")


def mask_numbers(text: str) -> str:
    """Replace phone-number-looking digit runs, keeping the first and the last four digits."""
    return _NUMBER.sub(lambda m: f"{m.group(1)}******{m.group(2)}", text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_numbers(record.getMessage())
        record.args = ()
        return True


def configure(level: int = logging.INFO) -> None:
    """Log to stderr with numbers masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log prints query strings, which carry line numbers.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # twilio-python logs every request's URL, query and headers at INFO.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    # The Slack SDK formats each request and response (the whole card) for its DEBUG line
    # whenever its own logger has no level set, since it tests logger.level rather than the
    # effective level; the text was then dropped. An explicit level skips that work.
    logging.getLogger("slack_sdk.web.async_base_client").setLevel(level)
