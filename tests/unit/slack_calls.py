"""What the code asks of Slack, read from `bot/` source with `ast`, and the scopes that needs.

Method -> scope comes from the Slack Web API spec (each method's `token` parameter says
"Requires scope: `chat:write`"). The spec was frozen in 2021, so three things are by hand:
classic scope names it still uses, the conversations.* umbrella names, and methods newer
than the freeze (doc: docs.slack.dev/reference/methods/NAME).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOT = Path(__file__).resolve().parents[2] / "bot"
# The stand-ins answer Slack methods and the demo reads what they recorded: neither calls Slack.
NOT_CALLERS = ("standins/", "demo.py")

# Classic (pre-2020) scope names in the frozen spec, and what a bot token asks for now.
CLASSIC_SCOPES = {"chat:write:bot": "chat:write", "chat:write:user": "chat:write", "files:write:user": "files:write"}
# "conversations:read" and friends are not scopes: the real one depends on the channel type
# (`security` lists channels:, groups:, im:, mpim:). Lines live in public or private channels;
# conversations.open is only used for DMs.
CHANNEL_KINDS_DEFAULT = ("channels", "groups")
CHANNEL_KINDS = {"conversations.open": ("im",)}
# Methods newer than the frozen spec, with the scope their method page names.
NEWER_METHODS: dict[str, tuple[str, ...]] = {
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}
# Called with the app-level token (scope connections:write, not a bot scope).
APP_LEVEL_METHODS = frozenset({"apps.connections.open"})
# slack_sdk helpers that are not one method each.
SDK_HELPERS = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}
REQUIRES = re.compile(r"Requires scope: `([^`]+)`")


@dataclass
class SlackUse:
    methods: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)


def known_methods(spec: dict[str, Any]) -> set[str]:
    return {path.lstrip("/") for path in spec["paths"]} | set(NEWER_METHODS) | APP_LEVEL_METHODS


def scan(spec: dict[str, Any], root: Path = BOT) -> SlackUse:
    """Every Web API method, Bolt event and slash command named in the code under `root`."""
    known = known_methods(spec)
    use = SlackUse()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(NOT_CALLERS):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        module = "bot." + relative.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for node in ast.walk(tree):
            _note(node, module, known, use)
    return use


def _note(node: ast.AST, module: str, known: set[str], use: SlackUse) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known:
        use.methods.add(node.value)  # "chat.postMessage" passed to a generic caller
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return
    name = node.func.attr
    use.methods.update(m for m in _sdk_methods(name) if m in known)  # client.chat_postMessage(...)
    if name in ("event", "command") and node.args:
        target = use.events if name == "event" else use.commands
        target.update(_literal(node.args[0], module))  # bolt.event("message"), bolt.command(COMMAND)


def _sdk_methods(attribute: str) -> Iterator[str]:
    yield from SDK_HELPERS.get(attribute, ())
    yield attribute.replace("_", ".")


def _literal(arg: ast.expr, module: str) -> set[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if isinstance(arg, ast.Name):
        value = getattr(importlib.import_module(module), arg.id)
        return {value} if isinstance(value, str) else set()
    return set()


def needed_scopes(method: str, spec: dict[str, Any]) -> set[str]:
    """The bot scopes one method needs (all of them), by the spec and the hand tables above."""
    if method in APP_LEVEL_METHODS:
        return set()
    if method in NEWER_METHODS:
        return set(NEWER_METHODS[method])
    operation = next(iter(spec["paths"]["/" + method].values()))
    token: dict[str, Any] = next((p for p in operation.get("parameters", []) if p["name"] == "token"), {})
    named = REQUIRES.findall(token.get("description", ""))
    if not named or named == ["none"]:
        return set()
    scope = CLASSIC_SCOPES.get(named[0], named[0])
    if scope.startswith("conversations:"):
        kinds = CHANNEL_KINDS.get(method, CHANNEL_KINDS_DEFAULT)
        alternatives = [s for entry in operation.get("security", []) for s in entry.get("slackAuth", [])]
        return {s for s in alternatives if s.split(":")[0] in kinds}
    return {scope}
