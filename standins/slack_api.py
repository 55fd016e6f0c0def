"""A local Slack Web API: `/api/{method}`, checked against the published spec.

Point the SDK at it with `AsyncWebClient(token=..., base_url=stand.api_url)` (PROTOCOLS 6).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Self

from aiohttp import web

from bot.slack.scopes import BOT_SCOPES
from standins import specs
from standins.server import Recorded, Reply, StandInServer
from standins.slack_rules import CREDENTIALS, SlackRules
from standins.slack_socket import APP_TOKEN_METHODS, PATH, SlackSocket
from standins.slack_workspace import Args, SlackWorkspace, fail

# Arguments whose value is JSON: slack_sdk sends them as JSON in a JSON body, or as a JSON string
# in a form or query (the frozen spec types them as strings). Both are recorded parsed.
JSON_ARGS = frozenset({"blocks", "attachments", "view", "files", "metadata"})
# The `method` recorded for step 2 of an external upload (raw bytes to `upload_url`).
UPLOAD = "upload"
# The `method` recorded for a GET of a posted file's `url_private`.
PRIVATE_FILE = "files-pri"
# What the bot token is granted unless a test says otherwise: a correct install.
GRANTED_SCOPES = BOT_SCOPES


class SlackStandIn(StandInServer, SlackWorkspace):
    """The HTTP side (auth, spec checks, failures) over the in-memory workspace."""

    def __init__(
        self, bot_token: str, *, team_id: str = "T0TEXTBACK", team: str = "Textback Demo",
        bot_user_id: str = "UBOT0001", bot_id: str = "BBOT0001", app_token: str | None = None,
    ) -> None:
        StandInServer.__init__(self)
        SlackWorkspace.__init__(self, team_id=team_id, team=team, bot_user_id=bot_user_id, bot_id=bot_id)
        self.bot_token = bot_token
        self.rules = SlackRules(specs.slack_web())
        # Slack reports the token's scopes in this header on every answer (`textback doctor`).
        self.scopes: list[str] = list(GRANTED_SCOPES)
        self.app_token = app_token  # xapp-..., for Socket Mode
        self.socket = SlackSocket()

    @property
    def spec_checked(self) -> bool:
        return self.rules.spec_checked

    @property
    def api_url(self) -> str:
        """The base URL for AsyncWebClient (its trailing slash matters to nothing, but is Slack's)."""
        return self.url + "/api/"

    async def start(self) -> Self:
        await super().start()
        self.upload_base = self.url
        self.socket.base_url = "ws" + self.url.removeprefix("http")
        return self

    async def stop(self) -> None:
        await self.socket.close_all()
        await super().stop()

    def failure_body(self, status: int) -> Any:
        error = "ratelimited" if status == 429 else "internal_error" if status >= 500 else "fatal_error"
        return {"ok": False, "error": error}

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [
            web.post("/api/{method}", self._api),
            web.get("/api/{method}", self._api),
            web.post("/upload/{file_id}", self._upload),
            web.get("/files-pri/{team_file}/{name}", self._private_file),
            web.get(PATH, self.socket.handle),
        ]

    async def _api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        method = request.match_info["method"]
        args, unreadable = await _read_args(request)
        rec = Recorded(method, args, arrived)
        refusal = self._refusal(request, rec, unreadable)
        if refusal is not None:
            return self.finish(rec, refusal)
        if method in APP_TOKEN_METHODS:
            return await self.answer(rec, lambda: Reply(200, {"ok": True, "url": self.socket.link()}))
        behaviour = self.method(method)
        return await self.answer(rec, lambda: self._with_scopes(behaviour(rec.params)))

    def _with_scopes(self, reply: Reply) -> Reply:
        return replace(reply, headers={**reply.headers, "x-oauth-scopes": ",".join(self.scopes)})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        file_id = request.match_info["file_id"]
        content = await request.read()
        rec = Recorded(UPLOAD, {"file_id": file_id, "length": str(len(content))}, arrived)
        # Upload URLs are pre-authorised: no token is sent or needed.
        return await self.answer(rec, lambda: self.store_upload(file_id, content))

    async def _private_file(self, request: web.Request) -> web.StreamResponse:
        """A posted file at its `url_private`: to the bot token only. Anyone else is sent to the
        sign-in page, as Slack does (a client that follows it gets HTML, not the file)."""
        rec = Recorded(PRIVATE_FILE, {"file": request.match_info["team_file"]}, time.perf_counter())
        _, _, file_id = request.match_info["team_file"].partition("-")
        found = self.shared.get(file_id)
        if _bearer(request) != self.bot_token:
            signin = f"https://{self.domain}.slack.com/?redir=" + request.path
            return self.finish(rec, Reply(302, "", error="not the bot token", headers={"Location": signin}))
        if found is None or request.match_info["name"] != found["file"]["name"]:
            return self.finish(rec, Reply(404, "Not Found", error="no such file"))
        content, headers = found["content"], {"Content-Type": found["file"]["mimetype"]}
        return await self.answer(rec, lambda: Reply(200, content, headers=headers))

    def _refusal(self, request: web.Request, rec: Recorded, unreadable: str | None) -> Reply | None:
        token = _bearer(request) or rec.params.get(CREDENTIALS)
        if not token:
            return fail("not_authed")
        expected = self.app_token if rec.method in APP_TOKEN_METHODS else self.bot_token
        if token != expected:
            known = token in (self.bot_token, self.app_token)
            return fail("not_allowed_token_type" if known else "invalid_auth")
        if unreadable:
            self.violate(rec.method, unreadable)
            return fail("invalid_json")
        if not self.rules.known(rec.method):
            self.violate(rec.method, "no such Web API method")
            return fail("unknown_method", status=404)
        problems = self.rules.problems(rec.method, rec.params)
        for problem in problems:
            self.violate(rec.method, problem)
        if problems:
            return fail("invalid_arguments", response_metadata={"messages": problems})
        return None


async def _read_args(request: web.Request) -> tuple[Args, str | None]:
    """Query, then form, then JSON body, merged (slack_sdk uses each, depending on the method)."""
    args: Args = dict(request.query)
    unreadable = None
    if request.content_type == "application/json":
        text = await request.text()
        try:
            body = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            body, unreadable = {}, "the JSON body does not parse"
        args.update(body if isinstance(body, dict) else {})
    elif request.method == "POST":
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {name: _parsed(name, value) for name, value in args.items()}, unreadable


def _parsed(name: str, value: Any) -> Any:
    if name not in JSON_ARGS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # left as text; the method answers invalid_blocks / invalid_arguments


def _bearer(request: web.Request) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None
