"""The two media ports: a caller's attachment from Twilio into the thread (`ThreadMedia`), and
a team member's picture from Slack onto the shelf Twilio fetches it from (`ShelfMedia`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiohttp

from bot.services import Services
from bot.slack.files import fetch_private, upload_to_thread
from bot.twilio import media as twilio_media
from workflows.conversation import Conversation, MediaItem, Moved, SharedFile
from workflows.media import CALLER_TYPES, SERVED_FOR, looks_like, media_type


@dataclass(frozen=True)
class ThreadMedia:
    """`CallerMedia`: download with the account's credentials, upload with files upload v2."""

    svc: Services

    async def copy_to_thread(self, conv: Conversation, item: MediaItem, *, filename: str) -> Moved:
        if not conv.thread_id:  # Slack refused the thread: a file must not land in the channel
            return Moved(ok=False, reason="the conversation has no thread to put it in")
        settings = self.svc.settings
        auth = aiohttp.BasicAuth(settings.twilio_account_sid, settings.twilio_auth_token)
        got = await twilio_media.download(self.svc.http, item.url, item.content_type,
                                          api_url=settings.twilio_api_url, auth=auth)
        if got.failed is not None:
            return got.failed
        kind = media_type(item.content_type)
        noun = "Photo" if kind.startswith("image/") else "Attachment"
        return await upload_to_thread(
            self.svc.slack, conv, got.content, filename=f"{filename}.{CALLER_TYPES[kind]}",
            title=f"{noun} from {conv.caller.display}",
        )


@dataclass(frozen=True)
class ShelfMedia:
    """`TeamMedia`: read the file with the bot token, check it is the picture it says it is,
    and put it up at PUBLIC_URL/media/<token> for an hour."""

    svc: Services

    async def publish(self, file: SharedFile, *, now: datetime) -> Moved:
        settings = self.svc.settings
        got = await fetch_private(self.svc.http, file.url, token=settings.slack_bot_token,
                                  api_url=settings.slack_api_url)
        if isinstance(got, Moved):
            return got
        kind = media_type(file.mimetype)
        if not looks_like(kind, got[:16]):
            return Moved(ok=False, reason=f"what Slack handed over is not a {kind.removeprefix('image/').upper()} picture")
        token = await self.svc.media.put(got, kind, now=now, until=now + SERVED_FOR)
        return Moved(ok=True, url=settings.public_url.rstrip("/") + twilio_media.media_path(token))
