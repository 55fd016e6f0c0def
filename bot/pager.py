"""The `Pager` port: a Slack direct message and a Twilio voice call to the person on call."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from bot.phones import mask
from bot.slack.blocks import escape
from bot.slack.gateway import SlackThreads
from bot.twilio.gateway import SEND_TIMEOUT_S, refusal
from workflows.conversation import Conversation
from workflows.ports import RetryLater

log = logging.getLogger(__name__)


class SlackTwilioPager:
    """DMs through the bot's Slack client; calls through the Twilio REST API."""

    def __init__(self, chat: SlackThreads, twilio: Client) -> None:
        self._chat = chat
        self._twilio = twilio

    async def dm(self, user: str, text: str, conv: Conversation) -> str | None:
        opened = await self._chat.call("conversations.open", users=user)
        channel = ((opened or {}).get("channel") or {}).get("id")
        if not channel:
            log.warning("page: cannot open a direct message with %s", user)
            return None
        link = await self._chat.permalink(conv)
        # The text is plain and may hold what a caller sent as their ID (a SIP address, an
        # alphanumeric sender): escaped, it can neither mention anyone nor form a link.
        body = escape(text) + (f" <{link}|Open the thread>" if link else f" See <#{conv.channel}>.")
        posted: dict[str, Any] | None = await self._chat.call(
            "chat.postMessage", channel=channel, text=body, unfurl_links=False, unfurl_media=False
        )
        return str(posted["ts"]) if posted else None

    async def call(self, *, to: str, from_: str, say: str) -> str | None:
        return await self.place(to=to, from_=from_, twiml=page_twiml(say))

    async def place(self, *, to: str, from_: str, twiml: str) -> str | None:
        """Ring `to` from `from_` and run `twiml` when they answer; the call id, or None when
        Twilio refused it for good (RetryLater when it may have failed for now)."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                made = await self._twilio.calls.create_async(to=to, from_=from_, twiml=twiml)
        except TwilioRestException as exc:
            result = refusal(exc)
            if result.transient:
                raise RetryLater(f"page call: {result.error}") from exc
            log.warning("page call to %s refused: %s", mask(to), exc.code)
            return None
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            # Unsure whether the call was placed: a second ring beats a missed page.
            raise RetryLater(f"page call to {mask(to)}: {exc!r}") from exc
        return str(made.sid)


def page_twiml(say: str) -> str:
    """A paging call: the summary twice, so a sleepy listener catches it."""
    resp = VoiceResponse()
    resp.say(say)
    resp.pause(length=1)
    resp.say(say)
    resp.hangup()
    return str(resp)
