"""Media and Twilio: a caller's MMS attachments downloaded from Twilio, and the pictures we
serve to Twilio for an outgoing MMS (`GET /media/<token>`).

Downloads carry the account's credentials, so they go to Twilio's own hosts over https only
(plain http only when the configured API is itself on a loopback address: the stand-ins).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp import web

from bot.services import SERVICES
from workflows.conversation import Moved
from workflows.media import MAX_MEDIA_BYTES, caller_type_problem

log = logging.getLogger(__name__)

TWILIO_API_HOST = "api.twilio.com"
# Where api.twilio.com redirects a media request (a short-lived URL; PROTOCOLS 2.5, and
# Twilio's note on HTTP auth for media): fetched without our credentials.
MEDIA_CDN_HOSTS = frozenset({"mms.twiliocdn.com", "media.twiliocdn.com"})
# Media stored before HTTP auth was enforced live in this bucket of Twilio's on S3.
LEGACY_BUCKET = ("s3-external-1.amazonaws.com", "/media.twiliocdn.com/")
FETCH_TIMEOUT_S = 15.0
MAX_REDIRECTS = 3


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host or "").is_loopback
    except ValueError:
        return False


def on_twilio_api(url: str, *, api_url: str) -> bool:
    """Whether `url` may be fetched with the account's credentials: Twilio's API host (or the
    configured TWILIO_API_URL) over https, or over http when that configured API is loopback."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if parts.netloc not in {TWILIO_API_HOST, api.netloc}:
        return False
    local = parts.scheme == api.scheme == "http" and parts.netloc == api.netloc and is_loopback(api.hostname)
    return parts.scheme == "https" or local


def on_media_cdn(url: str) -> bool:
    """A redirect target Twilio's media requests lead to: fetched over https, without credentials."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return False
    host, bucket = LEGACY_BUCKET
    return parts.hostname in MEDIA_CDN_HOSTS or (parts.hostname == host and parts.path.startswith(bucket))


@dataclass(frozen=True)
class Download:
    """A caller's attachment: its bytes, or why there are none (a `Moved` that failed)."""

    content: bytes = b""
    failed: Moved | None = None


def _failed(reason: str, *, transient: bool = False) -> Download:
    return Download(failed=Moved(ok=False, reason=reason, transient=transient))


async def download(
    http: aiohttp.ClientSession, url: str, content_type: str, *, api_url: str, auth: aiohttp.BasicAuth
) -> Download:
    """The attachment at `url`, checked: Twilio's host, at most 5 MB, of the type announced and
    one textback copies. Redirects are followed by hand, only to Twilio's media hosts."""
    if not on_twilio_api(url, api_url=api_url) or "/Media/" not in urlsplit(url).path:
        return _failed("it is not on Twilio's media host, so textback did not fetch it")
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    credentials: aiohttp.BasicAuth | None = auth
    try:
        for _ in range(MAX_REDIRECTS + 1):
            async with http.get(url, auth=credentials, allow_redirects=False, timeout=timeout) as resp:
                if resp.status in (301, 302, 303, 307, 308):
                    url = urljoin(url, resp.headers.get("Location", ""))
                    if not on_media_cdn(url):
                        return _failed("Twilio sent it elsewhere than its media hosts")
                    credentials = None  # a pre-signed URL: our credentials stay with Twilio's API
                    continue
                return await _read(resp, content_type)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _failed(f"Twilio could not be reached ({type(exc).__name__})", transient=True)
    return _failed("Twilio redirected it too many times")


async def _read(resp: aiohttp.ClientResponse, content_type: str) -> Download:
    if resp.status >= 500 or resp.status == 429:
        return _failed(f"Twilio answered HTTP {resp.status}", transient=True)
    if resp.status != 200:
        return _failed(f"Twilio answered HTTP {resp.status}")
    problem = caller_type_problem(content_type, resp.headers.get("Content-Type", ""))
    if problem:
        return _failed(problem)
    if (resp.content_length or 0) > MAX_MEDIA_BYTES:
        return _failed("it is over 5 MB")
    content = await resp.content.read(MAX_MEDIA_BYTES + 1)
    if len(content) > MAX_MEDIA_BYTES:
        return _failed("it is over 5 MB")
    return Download(content) if content else _failed("Twilio sent it empty")


# --- serving pictures to Twilio ---------------------------------------------------------------

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def media_path(token: str) -> str:
    return f"/media/{token}"


async def serve(request: web.Request) -> web.StreamResponse:
    """`GET /media/<token>`: a picture for an outgoing MMS, while it is valid; 404 otherwise.

    The unguessable token is the only credential (Twilio fetches without one); nothing lists
    the pictures, and each is served as stored, with its type and nothing else.
    """
    token = request.match_info["token"]
    svc = request.app[SERVICES]
    found = await svc.media.get(token, now=svc.clock.now()) if TOKEN.fullmatch(token) else None
    if found is None:
        return web.Response(status=404, text="Not Found")
    content_type, content = found
    headers = {"Content-Type": content_type, "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    return web.Response(body=content, headers=headers)


def routes() -> list[web.RouteDef]:
    return [web.get("/media/{token}", serve)]
