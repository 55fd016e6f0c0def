"""Delivery reports for outbound SMS: shown where the team will see them (PRODUCT §2.3)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.conversation import Entry, SmsResult
from workflows.ports import CallerFlags, ConversationStore, ThreadChat
from workflows.texting import learn_from_refusal

FAILED_STATUSES = frozenset({"failed", "undelivered"})
DELIVERED_REACTION = "white_check_mark"
# Delivery errors about the sender, not the caller: the line's number is not registered for
# A2P 10DLC (30034) or its toll-free number not verified (30032) (PROTOCOLS 2.3).
UNREGISTERED_SENDER_CODES = frozenset({30034, 30032})


@dataclass(frozen=True)
class DeliveryReport:
    sid: str
    status: str
    error_code: int | None = None


@dataclass(frozen=True)
class DeliveryOutcome:
    """What a report did: `unknown`, `progress`, `delivered` or `failed`; and, for a known
    text, its line (the edge counts failures per line and error code)."""

    kind: str
    line: str = ""


async def handle_delivery_report(
    report: DeliveryReport, *, store: ConversationStore, chat: ThreadChat, flags: CallerFlags
) -> DeliveryOutcome:
    """Mark a delivered team reply, or explain a failed text in the thread."""
    found = await store.outbound(report.sid)
    if found is None:
        if report.status in FAILED_STATUSES:
            # Likely a text-back whose job still waits for Slack: its late card must not say
            # "sent" (`early_report_shown`).
            await store.keep_early_report(report.sid, report.status, report.error_code)
        return DeliveryOutcome("unknown")
    conv, message_id = found
    if report.status == "delivered" and message_id:
        await chat.react(conv.channel, message_id, DELIVERED_REACTION)
        return DeliveryOutcome("delivered", conv.line)
    if report.status not in FAILED_STATUSES:
        return DeliveryOutcome("progress", conv.line)
    failure = SmsResult(ok=False, error_code=report.error_code, error="the carrier did not deliver it")
    await learn_from_refusal(flags, conv.line, conv.caller.number, report.error_code)
    if message_id:
        await chat.mark_reply(conv, message_id, failure)
    else:
        # Twilio accepted it, so the card said "sent"; now it says what became of it.
        conv.textback, conv.textback_detail = "undelivered", failure.reason
        await store.save(conv)
        await chat.post_entry(conv, Entry("system", f"Text-back not delivered: {failure.reason}.", icon="warning"))
        await chat.refresh_card(conv)
    return DeliveryOutcome("failed", conv.line)


async def early_report_shown(
    sid: str, *, store: ConversationStore, chat: ThreadChat, flags: CallerFlags
) -> bool:
    """Show a failed delivery report that came before its text was recorded; True if one did."""
    kept = await store.early_report(sid)
    if kept is None:
        return False
    status, code = kept
    await handle_delivery_report(DeliveryReport(sid, status, code), store=store, chat=chat, flags=flags)
    return True
