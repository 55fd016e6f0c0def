"""The in-memory workspace behind the Slack stand-in: what each Web API method does to it.

Every method takes the call's arguments (already checked) and returns a `Reply`; tests read
the state (`messages`, `reactions`...) directly.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from standins.server import Reply

Args = dict[str, Any]
# What Slack returns as the `message` object (the stored copy also keeps channel and options).
MESSAGE_FIELDS = ("type", "user", "bot_id", "app_id", "team", "text", "blocks", "attachments",
                  "metadata", "ts", "thread_ts", "edited")


def ok(**fields: Any) -> Reply:
    return Reply(200, {"ok": True, **fields})


def fail(error: str, status: int = 200, **fields: Any) -> Reply:
    return Reply(status, {"ok": False, "error": error, **fields}, error=error)


class SlackWorkspace:
    """One team, one bot user, the channels and people it meets."""

    def __init__(self, *, team_id: str, team: str, bot_user_id: str, bot_id: str) -> None:
        self.team_id, self.team = team_id, team
        self.domain = team.lower().replace(" ", "-")
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.upload_base = ""  # set when the server knows its URL
        self.messages: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.files: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._dms: dict[str, str] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        self.shared: dict[str, dict[str, Any]] = {}  # files people posted: id -> file and content
        self._last_ts = 0
        self.add_user(bot_user_id, "textback", bot=True)

    # --- setup and reading ------------------------------------------------------------

    def add_user(
        self, user_id: str, name: str, *, admin: bool = False, owner: bool = False,
        tz: str = "America/Chicago", bot: bool = False,
    ) -> dict[str, Any]:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        user = {
            "id": user_id, "team_id": self.team_id, "name": name.lower().replace(" ", "."),
            "real_name": name, "deleted": False, "is_bot": bot, "is_admin": admin, "is_owner": owner,
            "tz": tz, "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": {"display_name": name, "real_name": name},
        }
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, member: bool = True, archived: bool = False) -> None:
        self.channels[channel_id] = _channel(channel_id, name, member=member, archived=archived)

    def next_ts(self) -> str:
        """A message timestamp, "<epoch>.<6 digits>", unique and increasing like Slack's."""
        self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["channel"] == channel and m["ts"] == ts), None)

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The parent message and its replies, in posting order."""
        return [m for m in self.messages_in(channel) if thread_ts in (m["ts"], m.get("thread_ts"))]

    def method(self, name: str) -> Callable[[Args], Reply]:
        """The behaviour of a Web API method; a valid method not emulated just answers ok."""
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "reactions.add": self._react,
            "conversations.open": self._open_dm,
            "conversations.info": self._channel_info,
            "users.info": self._user_info,
            "views.publish": self._publish_view,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
        }.get(name, lambda args: ok())

    def _history(self, args: Args) -> Reply:
        """Top-level messages between `oldest` and `latest`, newest first, a page of `limit` at a
        time; `cursor` (a previous page's `response_metadata.next_cursor`) goes on from there.
        Metadata only when asked for."""
        try:
            limit = _page_limit(args.get("limit"))
            # No `latest` is Slack's "now": every message so far.
            oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
        except ValueError:
            return fail("invalid_arguments")
        inclusive = str(args.get("inclusive", "")).lower() in ("true", "1")
        found = [m for m in reversed(self.messages_in(str(args["channel"])))
                 if not m.get("thread_ts") and _within(float(m["ts"]), oldest, latest, inclusive)]
        if args.get("cursor"):
            start = _cursor_ts(str(args["cursor"]))
            if start is None:
                return fail("invalid_cursor")
            # The cursor names the next page's first message, not a count: messages posted
            # since the last page do not shift it (they are newer, on no later page).
            found = [m for m in found if float(m["ts"]) <= start]
        page, rest = found[:limit], found[limit:]
        more = {"response_metadata": {"next_cursor": _cursor(rest[0]["ts"])}} if rest else {}
        return ok(messages=[_listed(m, args) for m in page], has_more=bool(rest), **more)

    def _replies(self, args: Args) -> Reply:
        found = self.thread(str(args["channel"]), str(args["ts"]))
        if not found:
            return fail("thread_not_found")
        return ok(messages=[_listed(m, args) for m in found], has_more=False)

    # --- methods ----------------------------------------------------------------------

    def _auth_test(self, args: Args) -> Reply:
        return ok(url=f"https://{self.domain}.slack.com/", team=self.team, user="textback", team_id=self.team_id,
                  user_id=self.bot_user_id, bot_id=self.bot_id, is_enterprise_install=False)

    def _post_message(self, args: Args) -> Reply:
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return fail("no_text")
        if "blocks" in args and (not isinstance(args["blocks"], list) or block_problems(args["blocks"])):
            return fail("invalid_blocks", errors=block_problems(args["blocks"]) if isinstance(args["blocks"], list) else [])
        message = {
            **args, "type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "team": self.team_id,
            "channel": str(args["channel"]), "ts": self.next_ts(), "text": args.get("text", ""),
        }
        message.pop("token", None)
        self.messages.append(message)
        return ok(channel=message["channel"], ts=message["ts"], message=_public(message))

    def _update(self, args: Args) -> Reply:
        message = self.message(str(args["channel"]), str(args["ts"]))
        if message is None:
            return fail("message_not_found")
        if isinstance(args.get("blocks"), list) and block_problems(args["blocks"]):
            return fail("invalid_blocks", errors=block_problems(args["blocks"]))
        message.update({k: v for k, v in args.items() if k in ("text", "blocks", "attachments", "metadata")})
        message["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
        return ok(channel=message["channel"], ts=message["ts"], text=message["text"], message=_public(message))

    def _post_ephemeral(self, args: Args) -> Reply:
        if isinstance(args.get("blocks"), list) and block_problems(args["blocks"]):
            return fail("invalid_blocks", errors=block_problems(args["blocks"]))
        ephemeral = {k: v for k, v in args.items() if k != "token"} | {"message_ts": self.next_ts()}
        self.ephemerals.append(ephemeral)
        return ok(message_ts=ephemeral["message_ts"])

    def _permalink(self, args: Args) -> Reply:
        channel, ts = str(args["channel"]), str(args["message_ts"])
        link = f"https://{self.domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        message = self.message(channel, ts)
        if message and message.get("thread_ts") not in (None, ts):
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return ok(channel=channel, permalink=link)

    def _react(self, args: Args) -> Reply:
        reaction = {"channel": str(args["channel"]), "timestamp": str(args["timestamp"]),
                    "name": str(args["name"]), "user": self.bot_user_id}
        if reaction in self.reactions:
            return fail("already_reacted")
        self.reactions.append(reaction)
        return ok()

    def _open_dm(self, args: Args) -> Reply:
        users = str(args.get("users") or "")
        if not users:
            return fail("users_list_not_supplied")
        known = users in self._dms
        channel_id = self._dms.setdefault(users, f"D{len(self._dms) + 1:08d}")
        return ok(channel={"id": channel_id}, no_op=known, already_open=known)

    def _channel_info(self, args: Args) -> Reply:
        channel_id = str(args.get("channel") or "")
        if not channel_id:
            return fail("channel_not_found")
        # Channels the test did not declare exist, with the bot in them.
        found = self.channels.get(channel_id) or _channel(channel_id, f"channel-{channel_id.lower()}")
        return ok(channel=found)

    def _user_info(self, args: Args) -> Reply:
        user = self.users.get(str(args.get("user") or ""))
        return ok(user=user) if user else fail("user_not_found")

    def _publish_view(self, args: Args) -> Reply:
        view = args.get("view")
        if not isinstance(view, dict):
            return fail("invalid_arguments")
        self.views[str(args["user_id"])] = view
        return ok(view={**view, "id": "V" + secrets.token_hex(5).upper(), "hash": self.next_ts()})

    def _upload_url(self, args: Args) -> Reply:
        file_id = "F" + secrets.token_hex(5).upper()
        self._uploads[file_id] = {"id": file_id, "name": str(args["filename"]),
                                  "length": int(args["length"]), "content": None}
        return ok(upload_url=f"{self.upload_base}/upload/{file_id}", file_id=file_id)

    def store_upload(self, file_id: str, content: bytes) -> Reply:
        """Step 2 of an external upload: the raw bytes POSTed to `upload_url`, as long as
        `files.getUploadURLExternal` said (Slack refuses a different length)."""
        upload = self._uploads.get(file_id)
        if upload is None:
            return Reply(404, "Not Found", error="no such upload")
        if len(content) != upload["length"]:
            return Reply(400, "length mismatch", error=f"{len(content)} bytes sent, {upload['length']} announced")
        upload["content"] = content
        return Reply(200, f"OK - {len(content)}")

    def share_file(self, content: bytes, name: str, mimetype: str, *, user: str = "U0TEAM0001") -> dict[str, Any]:
        """A file a person posts, as Slack describes it in the message event's `files`; its bytes
        are served at `url_private` to the bot token only."""
        file_id = "F" + secrets.token_hex(5).upper()
        url = f"{self.upload_base}/files-pri/{self.team_id}-{file_id}/{name}"
        described = {
            "id": file_id, "created": int(time.time()), "timestamp": int(time.time()), "name": name, "title": name,
            "mimetype": mimetype, "filetype": name.rsplit(".", 1)[-1].lower(), "user": user, "user_team": self.team_id,
            "size": len(content), "mode": "hosted", "is_external": False, "is_public": True, "file_access": "visible",
            "url_private": url, "url_private_download": url,
            "permalink": f"https://{self.domain}.slack.com/files/{user}/{file_id}/{name}",
        }
        self.shared[file_id] = {"file": described, "content": content}
        return described

    def _complete_upload(self, args: Args) -> Reply:
        items = args.get("files")
        if not isinstance(items, list):
            return fail("invalid_arguments")
        if args.get("thread_ts") and not args.get("channel_id"):
            return fail("invalid_arguments", response_metadata={"messages": ["thread_ts needs channel_id"]})
        shared = []
        for item in items:
            upload = self._uploads.get(str(item.get("id")))
            if upload is None or upload["content"] is None:
                return fail("file_not_found")
            shared.append({**upload, "title": item.get("title") or upload["name"], "channel_id": args.get("channel_id"),
                           "thread_ts": args.get("thread_ts"), "initial_comment": args.get("initial_comment")})
        self.files.extend(shared)
        return ok(files=[{"id": f["id"], "title": f["title"]} for f in shared])


# conversations.history's `limit` (doc: docs.slack.dev/reference/methods/conversations.history;
# the frozen spec gives neither number): 100 when absent, at most 999.
HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX = 100, 999
CURSOR_PREFIX = "next_ts:"


# Block Kit's documented limits, which Slack enforces with `invalid_blocks`
# (docs.slack.dev/reference/block-kit/blocks): a message holds 50 blocks; a section's text and
# each context element's text 3,000 characters; a context 10 elements; a header 150.
MAX_BLOCKS, MAX_TEXT, MAX_CONTEXT_ELEMENTS, MAX_HEADER = 50, 3000, 10, 150


def block_problems(blocks: list[Any]) -> list[str]:
    """Where `blocks` break a Block Kit limit, in Slack's own wording style; [] when none."""
    problems = [f"must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]"] if len(blocks) > MAX_BLOCKS else []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            problems.append(f"expected an object [json-pointer:/blocks/{i}]")
            continue
        text: dict[str, Any] = block["text"] if isinstance(block.get("text"), dict) else {}
        limit = MAX_HEADER if block.get("type") == "header" else MAX_TEXT
        if len(str(text.get("text", ""))) > limit:
            problems.append(f"must be less than {limit + 1} characters [json-pointer:/blocks/{i}/text]")
        if block.get("type") == "context":
            elements = block.get("elements") or []
            if len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(f"must be less than {MAX_CONTEXT_ELEMENTS + 1} items [json-pointer:/blocks/{i}/elements]")
            for j, element in enumerate(elements):
                if isinstance(element, dict) and len(str(element.get("text", ""))) > MAX_TEXT:
                    problems.append(f"must be less than {MAX_TEXT + 1} characters "
                                    f"[json-pointer:/blocks/{i}/elements/{j}/text]")
    return problems


def _page_limit(value: Any) -> int:
    """The page size asked for, as Slack reads it: the default when absent, capped at the maximum."""
    if value in (None, ""):
        return HISTORY_LIMIT_DEFAULT
    return min(max(int(value), 1), HISTORY_LIMIT_MAX)


def _within(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    """Slack's time range: both ends left out unless `inclusive`."""
    return oldest <= ts <= latest if inclusive else oldest < ts < latest


def _cursor(ts: str) -> str:
    """An opaque cursor, shaped like Slack's (base64 of "next_ts:<ts>")."""
    return base64.b64encode((CURSOR_PREFIX + ts).encode()).decode()


def _cursor_ts(cursor: str) -> float | None:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        return float(text.removeprefix(CURSOR_PREFIX)) if text.startswith(CURSOR_PREFIX) else None
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None


def _listed(message: dict[str, Any], args: Args) -> dict[str, Any]:
    shown = _public(message)
    if str(args.get("include_all_metadata", "")).lower() not in ("true", "1"):
        shown.pop("metadata", None)
    return shown


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in MESSAGE_FIELDS if k in message}


def _channel(channel_id: str, name: str, *, member: bool = True, archived: bool = False) -> dict[str, Any]:
    return {"id": channel_id, "name": name, "is_channel": channel_id.startswith("C"),
            "is_im": channel_id.startswith("D"), "is_private": channel_id.startswith("G"),
            "is_member": member, "is_archived": archived}
