"""X-Twilio-Signature: checking Twilio's webhooks, and signing requests in tests and the demo."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from multidict import MultiDict
from twilio.request_validator import RequestValidator

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def _multidict(params: Params | None) -> Any:
    """Params in a shape RequestValidator reads: anything with `getall` keeps repeated names."""
    if params is None:
        return MultiDict()
    if hasattr(params, "getall") or hasattr(params, "getlist"):
        # aiohttp's MultiDictProxy (and Flask/Django multidicts) already carry every value.
        return params
    items = params.items() if isinstance(params, Mapping) else params
    return MultiDict(items)


def compute(url: str, params: Params, auth_token: str) -> str:
    """The signature Twilio sends for a POST of `params` to `url` (PROTOCOLS 3.1)."""
    return str(RequestValidator(auth_token).compute_signature(url, _multidict(params)))


def verify(url: str, params: Params | str | None, signature: str | None, auth_token: str) -> bool:
    """Constant-time check of a webhook's signature against the URL Twilio requested.

    twilio-python's validator is used as is: it signs every distinct value of repeated
    parameters and accepts the URL with or without the default port, since Twilio's own
    signing is inconsistent about it. A `str` body is a JSON webhook (`bodySHA256=`).
    """
    if not signature or not auth_token:
        return False
    body = params if isinstance(params, str) else _multidict(params)
    return bool(RequestValidator(auth_token).validate(url, body, signature))


def public_request_url(public_url: str, raw_path: str) -> str:
    """The URL Twilio requested: behind Fly's proxy `request.url` says http, so never use it."""
    return public_url.rstrip("/") + raw_path
