"""The Slack Web API stand-in, driven over real HTTP by the real slack_sdk AsyncWebClient."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins import specs
from standins.slack_api import UPLOAD, SlackStandIn

TOKEN = "xoxb-not-a-real-token"
CHANNEL = "C0LINEA001"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Missed call* from (512) 555-0123"}}]


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn(bot_token=TOKEN) as stand:
        yield stand


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url)


async def raw_post(slack: SlackStandIn, method: str, *, token: str = TOKEN, **kwargs: Any) -> tuple[int, Any]:
    """What the SDK would not send: misspelt methods, form-encoded JSON, no token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(slack.api_url + method, headers=headers, **kwargs) as r:
        return r.status, await r.json()


async def test_auth_test_names_the_bot(slack: SlackStandIn, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert (resp["user_id"], resp["bot_id"]) == (slack.bot_user_id, slack.bot_id) == ("UBOT0001", "BBOT0001")
    assert resp["team_id"] == "T0TEXTBACK" and resp["url"].startswith("https://")
    assert slack.violations == []


async def test_posts_build_threads_in_order(slack: SlackStandIn, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="Missed call", blocks=BLOCKS, unfurl_links=False)
    assert parent["channel"] == CHANNEL and parent["message"]["blocks"] == BLOCKS
    for text in ("Texted the caller", "Caller: hi"):
        await client.chat_postMessage(channel=CHANNEL, text=text, thread_ts=parent["ts"])
    await client.chat_postMessage(channel="C0OTHER001", text="elsewhere")
    thread = slack.thread(CHANNEL, parent["ts"])
    assert [m["text"] for m in thread] == ["Missed call", "Texted the caller", "Caller: hi"]
    assert thread[0]["unfurl_links"] is False and thread[0]["user"] == slack.bot_user_id
    assert len(slack.messages) == 4 and len(slack.messages_in(CHANNEL)) == 3
    assert slack.violations == []


async def test_message_ts_is_unique_and_increasing(slack: SlackStandIn, client: AsyncWebClient) -> None:
    await asyncio.gather(*(client.chat_postMessage(channel=CHANNEL, text=str(i)) for i in range(20)))
    stamps = [m["ts"] for m in slack.messages]
    assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
    as_numbers = [tuple(map(int, ts.split("."))) for ts in stamps]
    assert all(a < b for a, b in itertools.pairwise(as_numbers))


async def test_update_edits_in_place_and_refuses_an_unknown_ts(slack: SlackStandIn, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="1 call", blocks=BLOCKS)
    await client.chat_update(channel=CHANNEL, ts=parent["ts"], text="2 calls", blocks=[])
    updated = slack.message(CHANNEL, parent["ts"])
    assert updated is not None and (updated["text"], updated["blocks"]) == ("2 calls", [])
    assert len(slack.messages) == 1
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=CHANNEL, ts="1700000000.000001", text="x")
    assert refused.value.response["error"] == "message_not_found"


async def test_ephemeral_permalink_and_reactions(slack: SlackStandIn, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="card")
    reply = await client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent["ts"])
    ephemeral = await client.chat_postEphemeral(channel=CHANNEL, user="U0TEAM0001", text="only you")
    assert slack.ephemerals[0]["message_ts"] == ephemeral["message_ts"]
    assert slack.messages_in(CHANNEL)[-1]["text"] == "reply"  # ephemerals are not channel messages
    link = (await client.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"]))["permalink"]
    assert link.endswith(f"/archives/{CHANNEL}/p{reply['ts'].replace('.', '')}?thread_ts={parent['ts']}&cid={CHANNEL}")
    await client.reactions_add(channel=CHANNEL, timestamp=reply["ts"], name="outbox_tray")
    with pytest.raises(SlackApiError) as again:
        await client.reactions_add(channel=CHANNEL, timestamp=reply["ts"], name="outbox_tray")
    assert again.value.response["error"] == "already_reacted"
    reaction = {"channel": CHANNEL, "timestamp": reply["ts"], "name": "outbox_tray", "user": "UBOT0001"}
    assert slack.reactions == [reaction]
    assert slack.violations == []


async def test_directory_lookups(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.add_user("U0TEAM0001", "Dana", admin=True, tz="America/New_York")
    user = (await client.users_info(user="U0TEAM0001"))["user"]
    assert (user["profile"]["display_name"], user["is_admin"], user["is_owner"], user["tz"]) == (
        "Dana", True, False, "America/New_York")
    with pytest.raises(SlackApiError) as missing:
        await client.users_info(user="U0NOBODY01")
    assert missing.value.response["error"] == "user_not_found"
    channel = (await client.conversations_info(channel=CHANNEL))["channel"]
    assert channel["id"] == CHANNEL and channel["is_member"] is True and channel["name"]
    slack.add_channel("C0LEADS001", "leads", member=False)
    assert (await client.conversations_info(channel="C0LEADS001"))["channel"]["is_member"] is False
    dm = (await client.conversations_open(users="U0TEAM0001"))["channel"]["id"]
    assert dm.startswith("D") and (await client.conversations_open(users=["U0TEAM0001"]))["channel"]["id"] == dm
    assert slack.violations == []


async def test_app_home_views_are_kept_per_user(slack: SlackStandIn, client: AsyncWebClient) -> None:
    view = {"type": "home", "blocks": BLOCKS}
    resp = await client.views_publish(user_id="U0TEAM0001", view=view)
    assert resp["view"]["blocks"] == BLOCKS and slack.views == {"U0TEAM0001": view}
    assert slack.violations == []


async def test_files_upload_v2_runs_the_three_steps(slack: SlackStandIn, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="card")
    resp = await client.files_upload_v2(
        channel=CHANNEL, content=b"\x89PNG fake", filename="photo.png", title="Photo 1",
        thread_ts=parent["ts"], initial_comment="From the caller",
    )
    [shared] = slack.files
    assert resp["file"]["id"] == shared["id"] and shared["content"] == b"\x89PNG fake"
    assert (shared["channel_id"], shared["thread_ts"], shared["title"]) == (CHANNEL, parent["ts"], "Photo 1")
    methods = [r.method for r in slack.requests]
    assert methods[-3:] == ["files.getUploadURLExternal", UPLOAD, "files.completeUploadExternal"]
    assert slack.violations == []


async def test_args_from_query_form_and_json_are_merged(slack: SlackStandIn) -> None:
    # The frozen spec types `blocks` as a JSON string: a form post of one is accepted too.
    status, body = await raw_post(slack, "chat.postMessage?channel=" + CHANNEL,
                                  data={"text": "form", "blocks": json.dumps(BLOCKS)})
    assert status == 200 and body["ok"] is True
    status, body = await raw_post(slack, "chat.postMessage?thread_ts=" + body["ts"],
                                  json={"channel": CHANNEL, "text": "json"})
    assert body["ok"] is True
    first, second = slack.messages
    assert first["blocks"] == BLOCKS and second["thread_ts"] == first["ts"]
    assert slack.requests[0].params == {"channel": CHANNEL, "text": "form", "blocks": BLOCKS}
    assert slack.violations == []


async def test_tokens_are_checked(slack: SlackStandIn) -> None:
    assert (await raw_post(slack, "auth.test", token="xoxb-wrong"))[1] == {"ok": False, "error": "invalid_auth"}
    assert (await raw_post(slack, "auth.test", token=""))[1]["error"] == "not_authed"
    assert (await raw_post(slack, "auth.test", token="", data={"token": TOKEN}))[1]["ok"] is True
    assert [r.error for r in slack.requests] == ["invalid_auth", "not_authed", None]
    assert slack.violations == []


async def test_a_misspelt_method_is_a_violation(slack: SlackStandIn, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.api_call("chat.postMessag", json={"channel": CHANNEL, "text": "hi"})
    assert refused.value.response.status_code == 404 and refused.value.response["error"] == "unknown_method"
    assert slack.violations == ["chat.postMessag: no such Web API method"] and slack.messages == []


async def test_unknown_or_missing_arguments_are_violations(slack: SlackStandIn, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL, text="hi", thread="1700000000.000001")
    assert refused.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError):
        await client.api_call("reactions.add", params={"channel": CHANNEL, "name": "eyes"})
    # The newer methods are checked against their hand-written argument lists.
    with pytest.raises(SlackApiError):
        await client.api_call("files.getUploadURLExternal", params={"filename": "a.txt", "size": 3})
    assert slack.violations == [
        "chat.postMessage: unknown argument 'thread'",
        "reactions.add: missing required argument 'timestamp'",
        "files.getUploadURLExternal: unknown argument 'size'",
        "files.getUploadURLExternal: missing required argument 'length'",
    ]
    assert slack.messages == [] and slack.reactions == []


async def test_without_specs_anything_goes_but_a_crash_is_still_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(specs.ENV_VAR, str(tmp_path))
    async with SlackStandIn(bot_token=TOKEN) as stand:
        assert not stand.spec_checked
        assert await raw_post(stand, "chat.postMessag", json={"channel": CHANNEL, "text": "x"}) == (200, {"ok": True})
        status, _ = await raw_post(stand, "chat.postMessage", json={"text": "no channel"})
        assert status == 500 and stand.requests[-1].status == 500
        assert len(stand.violations) == 1 and "KeyError('channel')" in stand.violations[0]


async def test_valid_methods_not_emulated_answer_ok(slack: SlackStandIn, client: AsyncWebClient) -> None:
    resp = await client.conversations_history(channel=CHANNEL)
    assert resp["ok"] is True and slack.violations == []


async def test_injected_500_surfaces_as_slack_api_error(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel=CHANNEL, text="lost")
    assert failed.value.response.status_code == 500 and slack.messages == []
    await client.chat_postMessage(channel=CHANNEL, text="kept")
    assert [m["text"] for m in slack.messages] == ["kept"]


async def test_injected_429_carries_retry_after(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", status=429, headers={"Retry-After": "7"})
    slack.fail_next("reactions.add", status=429)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    response = limited.value.response
    assert (response.status_code, response.headers["Retry-After"], response["error"]) == (429, "7", "ratelimited")
    with pytest.raises(SlackApiError) as default:
        await client.reactions_add(channel=CHANNEL, timestamp="1700000000.000001", name="eyes")
    assert default.value.response.headers["Retry-After"] == "1"


async def test_ambiguous_failure_posts_but_answers_an_error(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", status=200, body={"ok": False, "error": "fatal_error"}, after_accept=True)
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=CHANNEL, text="posted anyway")
    assert [m["text"] for m in slack.messages] == ["posted anyway"]


async def test_delay_slows_one_method_only(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.delay("chat.postMessage", 0.2)
    await client.chat_postMessage(channel=CHANNEL, text="slow")
    await client.auth_test()
    slow, fast = slack.requests
    assert slow.answered - slow.arrived >= 0.2 > fast.answered - fast.arrived
    found = await slack.wait_for(lambda r: r.method == "chat.postMessage")
    assert found is slow


async def test_history_pages_like_slack(slack: SlackStandIn, client: AsyncWebClient) -> None:
    """`limit` per page, newest first, `has_more` and a `next_cursor` to go on; a reply in a
    thread is no channel message, and a post between pages does not shift the next page."""
    first = await client.chat_postMessage(channel=CHANNEL, text="card 0")
    await client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=first["ts"])
    for i in range(1, 7):
        await client.chat_postMessage(channel=CHANNEL, text=f"card {i}")
    await client.chat_postMessage(channel="C0OTHER001", text="elsewhere")

    page = await client.conversations_history(channel=CHANNEL, limit=3)
    assert [m["text"] for m in page["messages"]] == ["card 6", "card 5", "card 4"]
    assert page["has_more"] is True and page["response_metadata"]["next_cursor"]
    await client.chat_postMessage(channel=CHANNEL, text="card 7")  # newer: on no later page
    second = await client.conversations_history(channel=CHANNEL, limit=3,
                                                cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["card 3", "card 2", "card 1"]
    last = await client.conversations_history(channel=CHANNEL, limit=3,
                                              cursor=second["response_metadata"]["next_cursor"])
    assert [m["text"] for m in last["messages"]] == ["card 0"]
    assert last["has_more"] is False and not last.get("response_metadata", {}).get("next_cursor")
    # The SDK's own paging follows the cursor to the end.
    pages = [[m["text"] for m in p["messages"]] async for p in await client.conversations_history(
        channel=CHANNEL, limit=5)]
    assert pages == [["card 7", "card 6", "card 5", "card 4", "card 3"], ["card 2", "card 1", "card 0"]]
    assert slack.violations == []


async def test_history_limit_and_time_range_as_documented(slack: SlackStandIn, client: AsyncWebClient) -> None:
    """100 a page when `limit` is absent, 999 at most; `oldest`/`latest` leave out their own
    message unless `inclusive`; a cursor the stand-in did not give is refused."""
    for i in range(1000):
        slack.method("chat.postMessage")({"channel": CHANNEL, "text": f"card {i}"})
    assert len((await client.conversations_history(channel=CHANNEL))["messages"]) == 100
    most = await client.conversations_history(channel=CHANNEL, limit=5000)
    assert len(most["messages"]) == 999 and most["has_more"] is True
    ts = [m["ts"] for m in slack.messages_in(CHANNEL)]
    between = await client.conversations_history(channel=CHANNEL, oldest=ts[10], latest=ts[14])
    assert [m["text"] for m in between["messages"]] == ["card 13", "card 12", "card 11"]
    both_ends = await client.conversations_history(channel=CHANNEL, oldest=ts[10], latest=ts[14], inclusive=True)
    assert [m["text"] for m in both_ends["messages"]] == [f"card {i}" for i in range(14, 9, -1)]
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_history(channel=CHANNEL, cursor="not-a-cursor")
    assert refused.value.response["error"] == "invalid_cursor"
    assert slack.violations == []


@pytest.mark.parametrize(("blocks", "where"), [
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "/blocks/0/text"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}], "/blocks/0/elements/0/text"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "/blocks/0/elements"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51, "/blocks]"),
])
async def test_blocks_over_block_kits_limits_are_refused_as_slack_does(
    slack: SlackStandIn, client: AsyncWebClient, blocks: list[dict[str, object]], where: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert any(where in e for e in refused.value.response["errors"])
    fine = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 50
    assert (await client.chat_postMessage(channel=CHANNEL, text="t", blocks=fine))["ok"]
