"""Which recording URLs get the account's credentials: Twilio's API over https, nothing else."""

from __future__ import annotations

import pytest

from bot.handlers.voicemail import recording_media_url

TWILIO = "https://api.twilio.com"
PATH = "/2010-04-01/Accounts/AC0/Recordings/RE1"


def test_twilios_recording_over_https_is_fetched_as_mp3() -> None:
    assert recording_media_url(TWILIO + PATH, api_url=TWILIO) == TWILIO + PATH + ".mp3"
    assert recording_media_url(TWILIO + PATH + ".mp3", api_url=TWILIO) == TWILIO + PATH + ".mp3"


@pytest.mark.parametrize("url", [
    "http://api.twilio.com" + PATH,  # the credentials would cross the network in clear
    "https://evil.example" + PATH,
    "https://api.twilio.com/2010-04-01/Accounts/AC0/Calls/CA1",
    "ftp://api.twilio.com" + PATH,
])
def test_anything_else_is_not_fetched(url: str) -> None:
    assert recording_media_url(url, api_url=TWILIO) is None


def test_a_local_stand_in_may_use_http_but_only_on_its_own_loopback_address() -> None:
    for api in ("http://127.0.0.1:8931", "http://localhost:8931", "http://[::1]:8931"):
        assert recording_media_url(api + PATH, api_url=api) == api + PATH + ".mp3"
        assert recording_media_url("http://api.twilio.com" + PATH, api_url=api) is None
    # A staging API somewhere else on the network gets https like Twilio's.
    staging = "http://twilio-staging.example:8080"
    assert recording_media_url(staging + PATH, api_url=staging) is None
    assert recording_media_url("https://twilio-staging.example:8080" + PATH, api_url=staging) is not None
