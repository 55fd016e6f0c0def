"""The rules for photos both ways: which hosts get credentials, which files go out as MMS, and
between which numbers; and a reply's files kept whole in its recorded job."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.files import on_slack_files
from bot.twilio.media import on_media_cdn, on_twilio_api
from workflows import jobs
from workflows.conversation import SharedFile
from workflows.media import MAX_MEDIA_BYTES, caller_type_problem, looks_like, mms_refusal, plan_mms

TWILIO = "https://api.twilio.com"
MEDIA = "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
STAND_IN = "http://127.0.0.1:4010"


def picture(name: str, size: int = 1000, mimetype: str = "image/jpeg") -> SharedFile:
    return SharedFile(id="F" + name, name=name, mimetype=mimetype, size=size, url="https://files.slack.com/x/" + name)


def test_credentials_go_to_twilios_api_over_https_or_to_a_loopback_stand_in_only() -> None:
    assert on_twilio_api(TWILIO + MEDIA, api_url=TWILIO)
    assert not on_twilio_api("http://api.twilio.com" + MEDIA, api_url=TWILIO)
    assert not on_twilio_api("https://api.twilio.com.evil.example" + MEDIA, api_url=TWILIO)
    assert not on_twilio_api("https://evil.example" + MEDIA, api_url=TWILIO)
    assert on_twilio_api(STAND_IN + MEDIA, api_url=STAND_IN)
    assert not on_twilio_api("http://localhost:4010" + MEDIA, api_url=STAND_IN), "another name for the host"
    assert not on_twilio_api("http://10.0.0.5:4010" + MEDIA, api_url="http://10.0.0.5:4010"), "http off loopback"


def test_redirects_are_followed_only_to_twilios_media_cdn_over_https() -> None:
    assert on_media_cdn("https://mms.twiliocdn.com/AC1/abc?Expires=1")
    assert on_media_cdn("https://media.twiliocdn.com/AC1/abc")
    assert on_media_cdn("https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/abc")
    assert not on_media_cdn("https://s3-external-1.amazonaws.com/someone-elses-bucket/abc")
    assert not on_media_cdn("http://mms.twiliocdn.com/AC1/abc")
    assert not on_media_cdn("https://evil.example/mms.twiliocdn.com")


def test_the_bot_token_goes_to_slacks_file_host_only() -> None:
    assert on_slack_files("https://files.slack.com/files-pri/T1-F1/a.png", api_url="https://slack.com/api/")
    assert not on_slack_files("http://files.slack.com/files-pri/T1-F1/a.png", api_url="https://slack.com/api/")
    assert not on_slack_files("https://evil.example/files-pri/T1-F1/a.png", api_url="https://slack.com/api/")
    assert on_slack_files("http://127.0.0.1:4011/files-pri/T1-F1/a.png", api_url="http://127.0.0.1:4011/api/")
    assert not on_slack_files("http://127.0.0.1:9999/files-pri/T1-F1/a.png", api_url="http://127.0.0.1:4011/api/")


def test_a_caller_attachment_must_be_an_allowed_type_served_as_announced() -> None:
    assert caller_type_problem("image/jpeg", "image/jpeg") == ""
    assert caller_type_problem("IMAGE/PNG", "image/png; charset=binary") == ""
    assert "not one textback copies" in caller_type_problem("text/html", "text/html")
    assert "not one textback copies" in caller_type_problem("image/svg+xml", "image/svg+xml")
    assert "served it as text/html" in caller_type_problem("image/jpeg", "text/html")


def test_a_picture_must_start_as_its_type_does() -> None:
    assert looks_like("image/jpeg", b"\xff\xd8\xff\xe0")
    assert looks_like("image/gif", b"GIF89a")
    assert not looks_like("image/png", b"<!DOCTYPE html>")
    assert not looks_like("application/pdf", b"%PDF-1.7")


def test_mms_goes_between_us_and_canadian_numbers_from_a_local_line_only() -> None:
    assert mms_refusal("+15125550100", "+14165550123") == ""
    assert "line's number cannot send pictures" in mms_refusal("+18005550100", "+15125550123")
    assert "line's number cannot send pictures" in mms_refusal("+442079460000", "+15125550123")
    assert "only to US and Canadian numbers" in mms_refusal("+15125550100", "+442079460958")


def test_a_replys_files_split_into_pictures_and_warnings() -> None:
    big = MAX_MEDIA_BYTES - 500
    files = [picture("a.jpg"), picture("quote.pdf", mimetype="application/pdf"), picture("b.png", size=big),
             picture("huge.gif", size=MAX_MEDIA_BYTES + 1, mimetype="image/gif")]
    plan = plan_mms(files, "")
    assert [f.name for f in plan.pictures] == ["a.jpg"]
    assert plan.warnings == (
        "quote.pdf: not sent, only JPEG, PNG and GIF pictures can be texted",
        "huge.gif: not sent, it is 5.0 MB, over the 5 MB a text can carry",
        "b.png: not sent, the pictures together are over 5 MB",
    )
    refused = plan_mms(files[:1], "pictures go only to US and Canadian numbers")
    assert refused.pictures == () and refused.warnings == ("a.jpg: not sent, pictures go only to US and Canadian numbers",)


def test_a_team_reply_job_keeps_its_files_through_the_codec() -> None:
    job = jobs.TeamReplyJob(channel="C1", thread="1.1", ts="1.2", user="U1", text="", at=datetime(2026, 1, 1, tzinfo=UTC),
                            files=(picture("a.jpg"), picture("b.png", mimetype="image/png")))
    kind, wire = jobs.encode(job)
    assert jobs.decode(kind, wire) == job
    older = {k: v for k, v in wire.items() if k != "files"}
    assert jobs.decode(kind, older).files == (), "a job recorded before files were kept still runs"
