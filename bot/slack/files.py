"""Files and Slack: bytes uploaded into a thread (the upload v2 flow), and a file a team member
posted read back from its `url_private` with the bot token (scope `files:read`)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.gateway import is_transient
from bot.twilio.media import is_loopback
from workflows.conversation import Conversation, Moved
from workflows.media import MAX_MEDIA_BYTES
from workflows.ports import SlackUnavailable

log = logging.getLogger(__name__)

SLACK_FILES_HOST = "files.slack.com"
FETCH_TIMEOUT_S = 15.0


async def upload_to_thread(
    client: AsyncWebClient, conv: Conversation, content: bytes, *, filename: str, title: str
) -> Moved:
    """`files.getUploadURLExternal`, the bytes, then `files.completeUploadExternal` into the
    conversation's thread. Slack unavailable raises `SlackUnavailable`; a refusal is a failed `Moved`."""
    try:
        await client.files_upload_v2(
            channel=conv.channel, thread_ts=conv.thread_id, content=content, filename=filename, title=title,
        )
    except SlackApiError as exc:
        if is_transient(exc):
            raise SlackUnavailable(f"file upload: HTTP {exc.response.status_code}") from exc
        error = exc.response.get("error")
        log.warning("file upload refused: %s", error)
        return Moved(ok=False, reason=f"Slack refused the upload ({error})")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackUnavailable(f"file upload: {exc!r}") from exc
    return Moved(ok=True)


def on_slack_files(url: str, *, api_url: str) -> bool:
    """Whether the bot token may be sent to `url`: Slack's file host over https, or the
    configured SLACK_API_URL's host when it is a loopback address (the stand-in)."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if parts.scheme == "https" and parts.hostname == SLACK_FILES_HOST:
        return True
    return parts.scheme == api.scheme and parts.netloc == api.netloc and is_loopback(api.hostname)


async def fetch_private(http: aiohttp.ClientSession, url: str, *, token: str, api_url: str) -> bytes | Moved:
    """A posted file's bytes (at most 5 MB), or a failed `Moved` saying why not.

    Redirects are not followed: Slack answers a request it will not serve with one to its
    sign-in page, and the token must never go anywhere else.
    """
    if not on_slack_files(url, api_url=api_url):
        return Moved(ok=False, reason="it is not on Slack's file host")
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    try:
        async with http.get(url, headers=headers, allow_redirects=False, timeout=timeout) as resp:
            if resp.status >= 500 or resp.status == 429:
                return Moved(ok=False, reason=f"Slack answered HTTP {resp.status}", transient=True)
            if resp.status != 200:
                return Moved(ok=False, reason=f"Slack would not hand it over (HTTP {resp.status}; "
                                              "does the app have the files:read scope?)")
            content = await resp.content.read(MAX_MEDIA_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Moved(ok=False, reason=f"Slack could not be reached ({type(exc).__name__})", transient=True)
    if len(content) > MAX_MEDIA_BYTES:
        return Moved(ok=False, reason="it is over 5 MB")
    return content
