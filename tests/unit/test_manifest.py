"""app-manifest.yml: valid by Slack's own schema, and granting what the code uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.slack.scopes import BOT_SCOPES
from standins import slack_api, specs
from tests.unit.slack_calls import SlackUse, needed_scopes, scan

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_SCHEMA = "slack/manifest.schema.1.0.0.json"
# Bolt event type -> the manifest's bot event names that deliver it (lines may be private).
EVENT_SUBSCRIPTIONS = {"message": {"message.channels", "message.groups"}, "app_home_opened": {"app_home_opened"}}


def _spec(relative: str) -> dict[str, Any]:
    found = specs.load_spec(relative)
    if found is None:
        pytest.fail(f"{relative} not found: set TEXTBACK_SPECS_DIR to the shared specs directory")
    return found


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "app-manifest.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def web_spec() -> dict[str, Any]:
    return _spec(specs.SLACK_WEB)


@pytest.fixture(scope="module")
def use(web_spec: dict[str, Any]) -> SlackUse:
    return scan(web_spec)


def test_manifest_validates_against_slacks_schema(manifest: dict[str, Any]) -> None:
    validator = Draft7Validator(_spec(MANIFEST_SCHEMA))
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert problems == []


def test_the_scanner_finds_the_calls_it_must(use: SlackUse) -> None:
    # Guards the scan itself: an empty result would make the coverage test pass vacuously.
    assert {"chat.postMessage", "chat.update", "reactions.add", "users.info", "conversations.info"} <= use.methods
    assert "message" in use.events and "/textback" in use.commands


def test_every_web_api_method_the_code_calls_is_covered_by_a_declared_bot_scope(
    manifest: dict[str, Any], web_spec: dict[str, Any], use: SlackUse
) -> None:
    declared = set(manifest["oauth_config"]["scopes"]["bot"])
    missing = {m: sorted(needed_scopes(m, web_spec) - declared) for m in sorted(use.methods)}
    assert {m: s for m, s in missing.items() if s} == {}


def test_scope_derivation_reads_the_spec_and_the_hand_tables(web_spec: dict[str, Any]) -> None:
    assert needed_scopes("chat.postMessage", web_spec) == {"chat:write"}
    assert needed_scopes("conversations.info", web_spec) == {"channels:read", "groups:read"}
    assert needed_scopes("conversations.replies", web_spec) == {"channels:history", "groups:history"}
    assert needed_scopes("conversations.open", web_spec) == {"im:write"}
    assert needed_scopes("files.completeUploadExternal", web_spec) == {"files:write"}
    assert needed_scopes("auth.test", web_spec) == set()
    assert needed_scopes("apps.connections.open", web_spec) == set()


def test_events_the_code_listens_to_are_subscribed_and_nothing_else(manifest: dict[str, Any], use: SlackUse) -> None:
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    expected = set().union(*(EVENT_SUBSCRIPTIONS.get(e, {e}) for e in use.events))
    # Both ways: an event without a listener gets a 404 from Bolt, and Slack retries it.
    assert subscribed == expected
    if "app_home_opened" in use.events:
        assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_slash_commands_the_code_handles_are_declared(manifest: dict[str, Any], use: SlackUse) -> None:
    declared = {c["command"] for c in manifest["features"].get("slash_commands", [])}
    assert declared == use.commands
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]


def test_request_urls_all_reach_the_slack_route_over_https(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    urls += [c["url"] for c in manifest["features"]["slash_commands"]]
    assert {(urlsplit(u).scheme, urlsplit(u).path) for u in urls} == {("https", "/slack/events")}
    assert len({urlsplit(u).hostname for u in urls}) == 1, "one placeholder host, replaced in one go"


def test_doctor_and_the_stand_in_expect_exactly_the_manifest_scopes(manifest: dict[str, Any]) -> None:
    declared = manifest["oauth_config"]["scopes"]["bot"]
    assert sorted(BOT_SCOPES) == sorted(declared)
    assert sorted(slack_api.GRANTED_SCOPES) == sorted(declared)
