"""Checks a Slack Web API call against the published (frozen 2021) description.

The spec lists each method's arguments but was frozen before some methods and arguments
existed; those are declared here by hand from the method pages (PROTOCOLS 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Signature:
    declared: frozenset[str]
    required: frozenset[str]


# Methods newer than the frozen spec (doc: docs.slack.dev/reference/methods/NAME).
NEWER_METHODS = {
    "files.getUploadURLExternal": Signature(
        declared=frozenset({"filename", "length", "alt_txt", "snippet_type"}),
        required=frozenset({"filename", "length"}),
    ),
    "files.completeUploadExternal": Signature(
        declared=frozenset({"files", "channel_id", "channels", "initial_comment", "thread_ts"}),
        required=frozenset({"files"}),
    ),
    # Socket Mode (2020), called with the app-level token.
    "apps.connections.open": Signature(declared=frozenset(), required=frozenset()),
}
# Arguments added to old methods after the freeze (message metadata, 2022).
NEWER_ARGUMENTS = {
    "chat.postMessage": frozenset({"metadata"}),
    # Bolt passes the workspace id (org-wide installs, 2020); the frozen spec predates it.
    "auth.test": frozenset({"team_id"}),
    "chat.update": frozenset({"metadata"}),
    "conversations.history": frozenset({"include_all_metadata"}),
    "conversations.replies": frozenset({"include_all_metadata"}),
}
# The token travels in a header (or as an argument); it is checked as credentials, not here.
CREDENTIALS = "token"


class SlackRules:
    """Knows which methods exist and which arguments each takes; lenient without a spec."""

    def __init__(self, spec: dict[str, Any] | None) -> None:
        self._spec = spec
        self._signatures: dict[str, Signature | None] = {}

    @property
    def spec_checked(self) -> bool:
        return self._spec is not None

    def known(self, method: str) -> bool:
        return self._spec is None or self.signature(method) is not None

    def problems(self, method: str, args: dict[str, Any]) -> list[str]:
        """Arguments the method does not declare, and required ones missing."""
        signature = self.signature(method)
        if signature is None:
            return []
        names = set(args) - {CREDENTIALS}
        unknown = sorted(names - signature.declared)
        missing = sorted(signature.required - names)
        return [f"unknown argument {a!r}" for a in unknown] + [f"missing required argument {a!r}" for a in missing]

    def signature(self, method: str) -> Signature | None:
        if self._spec is None:
            return None
        if method not in self._signatures:
            self._signatures[method] = self._read_signature(method)
        return self._signatures[method]

    def _read_signature(self, method: str) -> Signature | None:
        assert self._spec is not None
        if method in NEWER_METHODS:
            return NEWER_METHODS[method]
        item = self._spec["paths"].get("/" + method)
        if item is None:
            return None
        # One verb per path; the verb itself is not checked (slack_sdk POSTs methods the spec
        # lists as GET, such as views.publish, and Slack accepts both).
        params = [p for operation in item.values() for p in operation.get("parameters", [])]
        args = [p for p in params if p["in"] in ("formData", "query") and p["name"] != CREDENTIALS]
        return Signature(
            declared=frozenset(p["name"] for p in args) | NEWER_ARGUMENTS.get(method, frozenset()),
            required=frozenset(p["name"] for p in args if p.get("required")),
        )
