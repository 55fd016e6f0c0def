"""Slack's door over HTTP (POST /slack/events): verify the signature over the raw body, then
let Bolt parse and dispatch.

Bolt parses a body before it verifies it, and its parser raises on bodies Slack never sends
(invalid JSON, a JSON list, `payload=%7Bbad`), so nothing unsigned reaches it: 401 for a bad or
missing signature or timestamp, 400 for a signed body Bolt cannot read.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

log = logging.getLogger(__name__)

UTF8_NAMES = ("utf-8", "utf8")


async def dispatch(request: web.Request, bolt: AsyncApp, secret: str, *, now: float) -> web.Response:
    """Answer one POST to /slack/events; `now` is wall-clock Unix seconds, as Slack signs."""
    body = await request.read()
    stamp, signature = request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER)
    if not verify(body, stamp, signature, secret, now=now):
        log.warning("refused /slack/events: bad or missing Slack signature or timestamp")
        return web.Response(status=401)
    bolt_request = readable(body, request)
    if bolt_request is None:
        log.warning("refused /slack/events: signed, but not a body Slack sends")
        return web.Response(status=400)
    return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))


def readable(body: bytes, request: web.Request) -> AsyncBoltRequest | None:
    """The request as Bolt reads it, or None when the body is not UTF-8 or Bolt cannot read a
    JSON object out of it."""
    if request.charset is not None and request.charset.lower() not in UTF8_NAMES:
        return None
    try:
        # Bolt parses the body and reads team, user and channel ids out of it as it builds the
        # request; any of those steps raises on a shape Slack does not send.
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"), query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # as Bolt's own aiohttp adapter
        )
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        log.warning("refused /slack/events: unreadable signed body: %s", type(exc).__name__)
        return None
    return bolt_request if isinstance(bolt_request.body, dict) and slack_shaped(bolt_request.body) else None


# Where Slack always sends an object (or, for ids, a string): Bolt's middleware and matchers
# call .get() on these without looking first, and answer 500 when they are anything else.
# `enterprise` may also be null (shortcuts and modals outside Enterprise Grid): Bolt checks for that.
OBJECTS = ("event", "enterprise", "container", "view", "message", "state", "item", "previous_message")
MAY_BE_NULL = frozenset({"enterprise"})
OBJECT_OR_ID = ("team", "user", "channel")
LISTS_OF_OBJECTS = ("authorizations", "actions")


def slack_shaped(body: dict[str, Any], depth: int = 0) -> bool:
    """False when a field Bolt reads is not the type Slack sends (checked in `event` too)."""
    for key, value in body.items():
        if key in OBJECTS and not isinstance(value, dict) and not (value is None and key in MAY_BE_NULL):
            return False
        if key in OBJECT_OR_ID and not isinstance(value, (dict, str)):
            return False
        if key in LISTS_OF_OBJECTS and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return False
    event = body.get("event")
    return depth > 0 or not isinstance(event, dict) or slack_shaped(event, depth + 1)


def text_at(obj: Any, *path: str) -> str:
    """The string at `path` in nested objects, or "" where Slack's shape is not there: a signed
    body with a list or an object where Slack sends a string is ignored, not a 500."""
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, str) else ""
