"""X-Twilio-Signature: checking Twilio's webhooks, and signing requests in tests and the demo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from multidict import MultiDict
from twilio.request_validator import RequestValidator


def _multidict(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> MultiDict[str]:
    items = params.items() if isinstance(params, Mapping) else params
    return MultiDict(items)


def compute(url: str, params: Mapping[str, str] | Iterable[tuple[str, str]], auth_token: str) -> str:
    """The signature Twilio sends for a POST of `params` to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, _multidict(params)))


def verify(url: str, params: Any, signature: str | None, auth_token: str) -> bool:
    """Constant-time check of a webhook's signature.

    twilio-python's validator is used as is: it signs every value of repeated parameters
    (aiohttp's MultiDictProxy has `getall`) and accepts the URL with or without the
    default port, as Twilio's own signing is inconsistent about it.
    """
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def public_request_url(public_url: str, raw_path: str) -> str:
    """The URL Twilio requested: behind Fly's proxy `request.url` says http, so never use it."""
    return public_url.rstrip("/") + raw_path
