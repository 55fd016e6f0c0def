"""Photos both ways: a caller's MMS attachments copied into the thread as files (Slack's upload v2
flow), and pictures a team member posts in the thread sent to the caller as one MMS, served to
Twilio at a short-lived URL."""

from __future__ import annotations

import aiohttp

from standins.clock import FakeClock
from standins.rig import Rig
from tests.conftest import CALLER, CHANNEL, LINE
from tests.integration.saw import blocks_text, texts_to
from tests.integration.steps import open_thread

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1)) * 4
PDF = b"%PDF-1.7\n" + b"quote " * 50


def thread_texts(rig: Rig, thread: str) -> list[str]:
    return [blocks_text(m) for m in rig.slack.thread(CHANNEL, thread)[1:]]


def fetched_from_twilio(rig: Rig) -> list[int]:
    """The HTTP status of every attachment download Twilio answered."""
    return [r.status for r in rig.twilio.requests if r.method == "FetchMedia"]


# --- caller media into the thread ----------------------------------------------------------


async def test_an_mms_with_two_images_becomes_two_files_in_the_thread(rig: Rig) -> None:
    thread = await open_thread(rig)
    urls = (rig.twilio.media_url(JPEG, "image/jpeg"), rig.twilio.media_url(PNG, "image/png"))
    sid, _ = await rig.caller_texts(CALLER, LINE, "the stain on the ceiling", media=urls,
                                    media_types=("image/jpeg", "image/png"))
    await rig.settle()
    assert [f["content"] for f in rig.slack.files] == [JPEG, PNG]
    assert [f["name"] for f in rig.slack.files] == [f"{sid}-1.jpg", f"{sid}-2.png"]
    assert {(f["channel_id"], f["thread_ts"]) for f in rig.slack.files} == {(CHANNEL, thread)}
    assert {f["title"] for f in rig.slack.files} == {"Photo from (512) 555-0123"}
    asked = [r.params for r in rig.slack.requests if r.method == "files.getUploadURLExternal"]
    assert [int(a["length"]) for a in asked] == [len(JPEG), len(PNG)]
    assert fetched_from_twilio(rig) == [200, 200]
    [text] = [t for t in thread_texts(rig, thread) if "stain" in t]
    assert "2 attachments below" in text and "api.twilio.com" not in text and "127.0.0.1" not in text


async def test_a_photo_alone_shows_who_sent_it_then_the_file(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.caller_texts(CALLER, LINE, "", media=(rig.twilio.media_url(JPEG),))
    await rig.settle()
    assert [f["content"] for f in rig.slack.files] == [JPEG]
    assert any("Caller" in t and "1 attachment below" in t for t in thread_texts(rig, thread))


async def test_a_media_host_that_is_not_twilios_is_never_fetched(rig: Rig) -> None:
    thread = await open_thread(rig)
    # The stand-in's own media under another name for its host, and a stranger's host.
    real = rig.twilio.media_url(JPEG)
    elsewhere = real.replace("127.0.0.1", "localhost")
    await rig.caller_texts(CALLER, LINE, "look", media=(elsewhere, "https://evil.example/Media/ME1.jpg"))
    await rig.settle()
    assert fetched_from_twilio(rig) == [] and rig.slack.files == []
    links = [t for t in thread_texts(rig, thread) if "could not be copied" in t]
    assert len(links) == 2 and all("not on Twilio's media host" in t for t in links)
    assert "<https://evil.example/Media/ME1.jpg|link>" in links[1]
    assert any("look" in t for t in thread_texts(rig, thread))


async def test_a_download_that_fails_falls_back_to_a_link_and_keeps_the_text(rig: Rig) -> None:
    thread = await open_thread(rig)
    missing = rig.twilio.media_url(JPEG).rsplit("/", 1)[0] + "/ME" + "0" * 32
    served_as_html = rig.twilio.media_url(b"<html>", "text/html")
    await rig.caller_texts(CALLER, LINE, "water heater label", media=(missing, served_as_html))
    await rig.settle()
    assert rig.slack.files == []
    texts = thread_texts(rig, thread)
    assert any("water heater label" in t for t in texts)
    [first] = [t for t in texts if "Attachment 1 could not be copied" in t]
    [second] = [t for t in texts if "Attachment 2 could not be copied" in t]
    assert "Twilio answered HTTP 404" in first and f"<{missing}|link>" in first
    assert "served it as text/html, not image/jpeg" in second


async def test_retries_upload_each_attachment_once(rig: Rig) -> None:
    thread = await open_thread(rig)
    urls = (rig.twilio.media_url(JPEG), rig.twilio.media_url(PNG, "image/png"))
    # The first attachment goes in; Slack fails the second one's last step, and the job is retried.
    rig.slack.fail_next("files.completeUploadExternal", status=500, skip=1)
    await rig.caller_texts(CALLER, LINE, "two photos", media=urls, media_types=("image/jpeg", "image/png"))
    await rig.retry_waiting()
    assert [f["content"] for f in rig.slack.files] == [JPEG, PNG]
    completes = [r.status for r in rig.slack.requests if r.method == "files.completeUploadExternal"]
    assert completes == [200, 500, 200]
    assert fetched_from_twilio(rig) == [200, 200, 200], "the first attachment was downloaded once"
    assert sum("two photos" in t for t in thread_texts(rig, thread)) == 1


# --- pictures from Slack as MMS ------------------------------------------------------------


async def get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_a_team_image_reply_becomes_one_mms_whose_url_serves_the_exact_bytes(rig: Rig, clock: FakeClock) -> None:
    thread = await open_thread(rig)
    files = ((JPEG, "part.jpg", "image/jpeg"), (PNG, "quote.png", "image/png"))
    await rig.team_replies(CHANNEL, thread, "This is the part we'll bring", files=files)
    sms = await rig.twilio.wait_for(lambda r: r.method == "CreateMessage" and "part" in str(r.params.get("Body")))
    assert sms.params["Body"] == "This is the part we'll bring" and len(sms.params["MediaUrl"]) == 2
    await rig.twilio.wait_for(lambda r: r.method == "FetchOutboundMedia" and r.params["Url"] == sms.params["MediaUrl"][1])
    await rig.settle()
    assert [(f["status"], f["content_type"], f["content"]) for f in rig.twilio.fetched] == [
        (200, "image/jpeg", JPEG), (200, "image/png", PNG)]
    assert len(texts_to(rig)) == 2, "the text-back, then one MMS"
    # Slack served the files to the bot token, and the URLs are ours, unguessable.
    assert [r.status for r in rig.slack.requests if r.method == "files-pri"] == [200, 200]
    url = sms.params["MediaUrl"][0]
    assert url.startswith("https://textback.example.test/media/") and len(url.rsplit("/", 1)[1]) == 43
    local = rig.url + url.removeprefix("https://textback.example.test")
    assert await get(local) == (200, "image/jpeg", JPEG)
    assert (await get(local[:-1] + ("A" if local[-1] != "A" else "B")))[0] == 404
    assert (await get(rig.url + "/media/"))[0] == 404
    clock.advance(minutes=61)
    assert (await get(local))[0] == 404, "gone after an hour on the app's clock"


async def test_a_photo_alone_is_sent_as_an_mms_with_no_body(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.team_replies(CHANNEL, thread, "", files=((PNG, "unit-label.png", "image/png"),))
    sms = await rig.twilio.wait_for(lambda r: r.method == "CreateMessage" and "MediaUrl" in r.params)
    assert "Body" not in sms.params and len(sms.params["MediaUrl"]) == 1
    fetched = await rig.twilio.wait_for(lambda r: r.method == "FetchOutboundMedia")
    assert fetched.status == 200 and rig.twilio.fetched[0]["content"] == PNG
    await rig.settle()


async def test_a_pdf_gets_a_warning_and_its_text_still_goes(rig: Rig) -> None:
    thread = await open_thread(rig)
    await rig.team_replies(CHANNEL, thread, "Quote attached", files=((PDF, "quote.pdf", "application/pdf"),))
    sms = await rig.twilio.wait_for(lambda r: r.method == "CreateMessage" and r.params.get("Body") == "Quote attached")
    assert "MediaUrl" not in sms.params
    await rig.settle()
    [warning] = [t for t in thread_texts(rig, thread) if "Not texted to the caller" in t]
    assert "quote.pdf: not sent, only JPEG, PNG and GIF pictures can be texted" in warning
    assert [r for r in rig.slack.requests if r.method == "files-pri"] == [], "a PDF is never fetched"


async def test_pictures_to_a_number_abroad_get_a_warning_and_the_text_goes(rig: Rig) -> None:
    abroad = "+442079460958"
    await rig.caller_texts(abroad, LINE, "Hello from London")
    await rig.settle()
    [card] = [m for m in rig.slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")]
    await rig.team_replies(CHANNEL, card["ts"], "Here is the part", files=((JPEG, "part.jpg", "image/jpeg"),))
    sms = await rig.twilio.wait_for(lambda r: r.method == "CreateMessage" and r.params.get("To") == abroad)
    assert sms.params["Body"] == "Here is the part" and "MediaUrl" not in sms.params
    await rig.settle()
    assert any("part.jpg: not sent, pictures go only to US and Canadian numbers" in t
               for t in thread_texts(rig, card["ts"]))


async def test_slack_hands_a_posted_file_to_the_bot_token_only(rig: Rig) -> None:
    shared = rig.slack.share_file(JPEG, "p.jpg", "image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.get(shared["url_private"], allow_redirects=False) as resp:
            assert resp.status == 302 and "slack.com" in resp.headers["Location"]
        wrong = {"Authorization": "Bearer xoxb-someone-else"}
        async with http.get(shared["url_private"], headers=wrong, allow_redirects=False) as resp:
            assert resp.status == 302
        bot = {"Authorization": f"Bearer {rig.slack.bot_token}"}
        async with http.get(shared["url_private"], headers=bot, allow_redirects=False) as resp:
            assert resp.status == 200 and await resp.read() == JPEG
