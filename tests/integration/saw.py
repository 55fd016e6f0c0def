"""What the stand-ins saw, read one way by every test: the cards and threads Slack got, the
words of a message or a reply, the direct messages, and the texts and calls Twilio got; and
one sample of the app's /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL

# --- Slack: cards and threads --------------------------------------------------------------


def parents(rig: Rig, channel: str = CHANNEL) -> list[dict]:
    """Every message posted in the channel itself (the cards), not in a thread."""
    return [m for m in rig.slack.messages if m["channel"] == channel and not m.get("thread_ts")]


def parent(rig: Rig) -> dict:
    """The one card in line A's channel; fails when there is none or more than one."""
    [card] = parents(rig)
    return card


def card_text(rig: Rig) -> str:
    """The one card's blocks, as one string."""
    return str(parent(rig)["blocks"])


def thread(rig: Rig) -> list[str]:
    """The words of each reply under the one card, oldest first (the card itself left out)."""
    return [texts_of(m) for m in rig.slack.thread(CHANNEL, parent(rig)["ts"])][1:]


def containing(rig: Rig, words: str) -> list[str]:
    """The replies under the one card that contain `words`."""
    return [t for t in thread(rig) if words in t]


def thread_of(rig: Rig, channel: str = CHANNEL) -> list[str]:
    """The block text of every post of the channel's one thread, the card first."""
    [card] = parents(rig, channel)
    return [blocks_text(m) for m in rig.slack.thread(channel, card["ts"])]


def reply_blocks(rig: Rig) -> list[str]:
    """The blocks of each reply under the one card, each as one string."""
    return [str(m.get("blocks")) for m in rig.slack.thread(CHANNEL, parent(rig)["ts"])[1:]]


def dms(rig: Rig) -> list[dict]:
    """Every direct message the bot posted."""
    return [m for m in rig.slack.messages if m["channel"].startswith("D")]


def dm_opened_for(rig: Rig) -> list[str]:
    """Whom each conversations.open asked for a direct message with."""
    return [str(c.params.get("users")) for c in rig.slack.requests if c.method == "conversations.open"]


# --- Slack: the words of one message -------------------------------------------------------


def _block_texts(message: dict) -> Iterator[str]:
    for block in message.get("blocks") or []:
        for part in [block.get("text"), *(block.get("elements") or [])]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def blocks_text(message: dict) -> str:
    """The text of every block and block element, one per line (the fallback text left out)."""
    return "\n".join(_block_texts(message))


def texts_of(message: dict) -> str:
    """The fallback text, then the text of every block and block element, one per line."""
    return "\n".join([message.get("text", ""), *_block_texts(message)])


def said(payload: dict[str, Any]) -> str:
    """All the words of a reply or message: its text and every block's text."""
    parts = [str(payload.get("text") or "")]
    for block in payload.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(parts)


def button_value(card: dict, action: str) -> str:
    """The value the card's `action` button sends back when pressed."""
    for block in card["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action:
                return str(element["value"])
    raise AssertionError(f"no {action} button on the card")


def assert_slack_limits(payload: dict[str, Any]) -> None:
    """Slack's Block Kit limits (PROTOCOLS 6): a reply over them is refused or cut."""
    blocks = payload.get("blocks") or []
    assert len(blocks) <= 50
    assert len(payload.get("text") or "") <= 4000
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields") or []) <= 10
        elif block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        elif block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e.get("text", "")) <= 3000 for e in block["elements"])
        elif block["type"] == "actions":
            assert len(block["elements"]) <= 25
            assert all(len(e.get("value", "")) <= 2000 for e in block["elements"])


async def announcements(rig: Rig, channel: str = CHANNEL) -> list[str]:
    """What textback posted in the channel about settings changes."""
    await rig.settle()
    posted = [m for m in rig.slack.messages_in(channel) if "settings" in str(m.get("text"))]
    for message in posted:
        assert_slack_limits(message)
    return [said(m) for m in posted]


# --- Twilio ---------------------------------------------------------------------------------


def texts_to(rig: Rig, number: str = CALLER) -> list[str]:
    """The body of every text sent to `number`, oldest first."""
    return [m["body"] for m in rig.twilio.messages_to(number)]


def calls_to(rig: Rig, number: str) -> list[dict]:
    """Every call placed to `number`."""
    return [c for c in rig.twilio.calls if c["to"] == number]


# --- the app itself: /metrics --------------------------------------------------------------


async def metric(rig: Rig, name: str, **labels: str) -> float:
    """One sample of `GET /metrics` by name and labels (0 when it is not there)."""
    async with aiohttp.ClientSession() as http, http.get(rig.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0
