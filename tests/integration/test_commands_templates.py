"""`/textback template`: list, set and preview the text-back messages."""

from __future__ import annotations

from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL_B, LINE
from tests.integration.saw import announcements, said
from tests.integration.steps import MEMBER, slash


async def test_template_lists_both_with_their_source(rig: Rig) -> None:
    text = said(await slash(rig, "template", user=MEMBER))
    assert "*Business hours* (`business_hours`) · _default_" in text
    assert "*After hours* (`after_hours`) · _default_" in text
    assert "> Hi, this is {business}. Sorry we missed your call" in text
    assert "1 segment(s), GSM-7" in text


async def test_preview_fills_in_the_lines_values_and_counts_segments(rig: Rig) -> None:
    text = said(await slash(rig, "template preview after_hours", user=MEMBER))
    assert "> Hi, this is Acme Plumbing. We're closed now but saw your call. Book here: https://acme.example/book" in text
    assert text.rstrip().endswith("180 characters · 2 SMS segments · GSM-7")
    assert "Reply STOP to opt out." in text and "Business hours" not in text


async def test_preview_of_both_and_of_unicode_text(rig: Rig) -> None:
    await slash(rig, "template set business_hours Sorry we missed you 🙏 it’s {hours_today} today")
    text = said(await slash(rig, "template preview"))
    assert "> Sorry we missed you 🙏 it’s 8:00 AM-5:00 PM today Reply STOP to opt out." in text
    assert "2 SMS segments · UCS-2 (because of ’ 🙏;" in text
    assert "*After hours* as a caller gets it now" in text


async def test_set_saves_previews_and_announces_old_and_new(rig: Rig) -> None:
    reply = said(await slash(rig, 'template set after_hours "Closed now - we open {next_open}. {booking_url}"'))
    assert "Saved for *Acme Plumbing*" in reply
    assert "> Closed now - we open tomorrow at 8:00 AM. https://acme.example/book Reply STOP to opt out." in reply
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None and line.templates.after_hours == "Closed now - we open {next_open}. {booking_url}"
    [notice] = await announcements(rig)
    assert "*after-hours text*\n> Hi, this is {business}. We're closed now" in notice
    assert "→\n> Closed now - we open {next_open}. {booking_url}" in notice


async def test_set_accepts_short_names_and_slack_escaped_text(rig: Rig) -> None:
    await slash(rig, "template business Hi &amp; thanks from {business}, see <https://acme.example/faq>")
    line = await rig.services.lines.line_for_number(LINE)
    assert line is not None
    assert line.templates.business_hours == "Hi & thanks from {business}, see https://acme.example/faq"


async def test_set_refuses_more_than_three_segments(rig: Rig) -> None:
    reply = said(await slash(rig, "template set business_hours " + "Sorry we missed your call. " * 20))
    assert ":warning:" in reply and "SMS segments" in reply and "keep it to 3 segments or fewer" in reply
    assert "Example: `/textback template set after_hours" in reply
    assert await announcements(rig) == []


async def test_set_names_the_placeholder_meant(rig: Rig) -> None:
    reply = said(await slash(rig, "template set business_hours Hi from {busines}"))
    assert "unknown placeholder {busines} (did you mean {business}?" in reply


async def test_booking_url_needs_a_booking_link(rig: Rig) -> None:
    reply = said(await slash(rig, "template set after_hours Book at {booking_url}", channel=CHANNEL_B))
    assert "no booking_url" in reply


async def test_template_input_mistakes(rig: Rig) -> None:
    assert '"evening" is not a template' in said(await slash(rig, "template set evening Hi"))
    assert "write the new text after after_hours" in said(await slash(rig, "template set after_hours"))
    assert '"nite" is not a template' in said(await slash(rig, "template preview nite"))
    assert "use list, set or preview" in said(await slash(rig, "template edit"))


async def test_a_template_set_from_slack_is_what_the_next_caller_receives(rig: Rig) -> None:
    await slash(rig, 'template set business_hours "Hi from {business}! What do you need fixed?"')
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    [sms] = rig.twilio.messages_to(CALLER)
    assert sms["body"].startswith("Hi from Acme Plumbing! What do you need fixed?")


async def test_a_cooldown_set_from_slack_applies_to_repeat_calls(rig: Rig) -> None:
    await slash(rig, "cooldown 1s")
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    ttl = await rig.services.redis.client.ttl(f"tb:cooldown:{LINE}:{CALLER}")
    assert 0 < ttl <= 1
