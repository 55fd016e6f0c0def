"""Delivery reports for outbound SMS: shown where the team will see them (PRODUCT §2.3)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.conversation import Entry, SmsResult
from workflows.ports import CallerFlags, ConversationStore, ThreadChat
from workflows.texting import learn_from_refusal

FAILED_STATUSES = frozenset({"failed", "undelivered"})
DELIVERED_REACTION = "white_check_mark"


@dataclass(frozen=True)
class DeliveryReport:
    sid: str
    status: str
    error_code: int | None = None


async def handle_delivery_report(
    report: DeliveryReport, *, store: ConversationStore, chat: ThreadChat, flags: CallerFlags
) -> str:
    """Mark a delivered team reply, or explain a failed text in the thread."""
    found = await store.outbound(report.sid)
    if found is None:
        return "unknown"
    conv, message_id = found
    if report.status == "delivered" and message_id:
        await chat.react(conv.channel, message_id, DELIVERED_REACTION)
        return "delivered"
    if report.status not in FAILED_STATUSES:
        return "progress"
    failure = SmsResult(ok=False, error_code=report.error_code, error="the carrier did not deliver it")
    await learn_from_refusal(flags, conv.line, conv.caller.number, report.error_code)
    if message_id:
        await chat.mark_reply(conv, message_id, failure)
    else:
        conv.textback, conv.textback_detail = "failed", failure.reason
        await store.save(conv)
        await chat.post_entry(conv, Entry("system", f"Text-back not delivered: {failure.reason}.", icon="warning"))
        await chat.refresh_card(conv)
    return "failed"
