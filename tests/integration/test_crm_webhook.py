"""The CRM webhook: signed JSON per lead change, in order, retried until a 2xx, kept across restarts."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from redis.asyncio import Redis

from bot.crm.webhook import sign
from bot.settings import load_settings, parse_config
from bot.store import keys
from standins.clock import FakeClock
from standins.rig import Rig, rig_settings
from tests.conftest import CALLER, CONFIG_YAML, LINE, LINE_B, OPEN_TIME
from tests.integration.crm_receiver import SECRET, Receiver, queue_elsewhere
from tests.integration.steps import event
from workflows.leads import apply_event, lead_id, webhook_payload

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2] / "docs" / "crm-webhook.schema.json"
    ).read_text()
)


def sending_job(line: str = LINE, caller: str = CALLER) -> str:
    """The Redis key of a lead's CRM sending job in the engine (present while it has deliveries)."""
    return keys.due_job(keys.crm_job(lead_id(line, caller)))


async def attempts(redis: Redis) -> int:
    """Failed runs of the lead's sending job so far (its back-off grows with them)."""
    return int(await redis.hget(sending_job(), "attempts") or 0)


def verified(headers: dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """What a receiver does, written from the README's description, not from our code."""
    parts = dict(
        item.split("=", 1) for item in headers["X-Textback-Signature"].split(",")
    )
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


def crm_rig(
    receiver: Receiver, redis_url: str, tmp_path: Path, clock: FakeClock
) -> Rig:
    settings = rig_settings(
        parse_config(CONFIG_YAML, "test.yml"), redis_url=redis_url, data_dir=tmp_path
    )
    return Rig(
        replace(settings, crm_webhook_url=receiver.url, crm_webhook_secret=SECRET),
        clock=clock,
    )


def test_sample_payloads_match_the_published_schema() -> None:
    validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
    lead, changes = apply_event(
        None, event("missed_call", _t(0), name="JANE DOE", conversation_id="c1")
    )
    created = webhook_payload(
        lead, changes, business="Acme Plumbing", cause="missed_call"
    )
    lead, changes = apply_event(
        lead, event("status", _t(60), status="booked", by="U0TEAM0001")
    )
    updated = webhook_payload(lead, changes, business="Acme Plumbing", cause="status")
    for payload in (created, updated):
        assert list(validator.iter_errors(payload)) == []
    assert created["event"] == "lead.created" and updated["event"] == "lead.updated"
    assert updated["delivery_id"] == f"{lead_id(LINE, CALLER)}.2" and updated[
        "changes"
    ] == ["history", "status"]
    broken = {**updated, "lead": {**updated["lead"], "status": "won"}}
    assert list(validator.iter_errors(broken)), (
        "the schema must reject an unknown status"
    )


def _t(seconds: int) -> datetime:
    return OPEN_TIME + timedelta(seconds=seconds)


def test_signature_matches_an_independent_hmac() -> None:
    body = b'{"event":"lead.created"}'
    header = sign(SECRET, body, 1_780_000_000)
    assert header.startswith("t=1780000000,v1=")
    assert verified({"X-Textback-Signature": header}, body)
    assert not verified({"X-Textback-Signature": header}, body + b" ")
    assert not verified(
        {"X-Textback-Signature": header}, body, secret="another-secret-0000000000"
    )


async def test_deliveries_are_signed_retried_until_accepted_and_kept_in_order(
    receiver: Receiver, redis: Redis, redis_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    receiver.statuses = [500, 503]
    async with crm_rig(receiver, redis_url, tmp_path, clock) as rig:
        await rig.missed_call(CALLER, LINE)
        await rig.settle()  # the lead's sending job ran, was refused, and waits for its retry
        assert len(receiver.received) == 1 and await attempts(redis) == 1
        await rig.caller_texts(CALLER, LINE, "Water heater is leaking")
        await rig.settle()
        # The second delivery waits behind the first, in the same job: nothing is due yet.
        assert len(receiver.received) == 1
        clock.advance(seconds=1)  # past the first back-off (the rig's 0.1 s, with jitter)
        await rig.fire_due()
        assert len(receiver.received) == 2 and await attempts(redis) == 2
        clock.advance(seconds=1)
        await rig.fire_due()
        await receiver.wait_for(4)
        payloads = receiver.payloads()
        assert [p["delivery_id"].rsplit(".", 1)[1] for p in payloads] == [
            "1",
            "1",
            "1",
            "2",
        ]
        assert [p["event"] for p in payloads] == ["lead.created"] * 3 + ["lead.updated"]
        assert (
            payloads[3]["cause"] == "caller_sms"
            and payloads[3]["lead"]["texts_in"] == 1
        )
        assert payloads[3]["changes"] == ["texts_in", "transcript"]
        [said] = payloads[3]["lead"]["transcript"]
        assert (said["from"], said["kind"]) == ("caller", "caller_text") and said["text"]
        validator = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
        for headers, body in receiver.received:
            assert verified(headers, body)
            assert headers["Content-Type"] == "application/json"
            assert headers["X-Textback-Delivery"] == json.loads(body)["delivery_id"]
            assert list(validator.iter_errors(json.loads(body))) == []
        first = payloads[0]["lead"]
        assert (first["phone"], first["line"], first["status"], first["calls"]) == (
            CALLER,
            LINE,
            "new",
            1,
        )
        # Everything accepted: nothing is left waiting, and the job is gone.
        await rig.settle()
        assert await redis.exists(f"tb:crm:outbox:{lead_id(LINE, CALLER)}", sending_job()) == 0


async def test_a_delivery_waiting_for_retry_survives_a_restart(
    receiver: Receiver, redis: Redis, redis_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    receiver.statuses = [500]
    async with crm_rig(receiver, redis_url, tmp_path, clock) as rig:
        await rig.missed_call(CALLER, LINE)
        await rig.settle()
        await receiver.wait_for(1)
    assert await redis.llen(f"tb:crm:outbox:{lead_id(LINE, CALLER)}") == 1
    clock.advance(minutes=1)
    async with crm_rig(receiver, redis_url, tmp_path / "again", clock) as rig:
        await receiver.wait_for(2)  # the timer of the new start finds the retry due
        await rig.settle()
        assert not await redis.exists(sending_job())
    first, second = receiver.payloads()
    assert first == second, "the same delivery is sent again"


async def test_no_url_means_no_outbox(rig: Rig, redis: Redis) -> None:
    await rig.missed_call(CALLER, LINE)
    await rig.settle()
    assert await rig.services.leads.get(LINE, CALLER) is not None
    assert await redis.keys("tb:crm:*") == []


def test_a_webhook_url_needs_a_signing_secret(tmp_path: Path) -> None:
    config = tmp_path / "lines.yml"
    config.write_text(CONFIG_YAML)
    env = {
        "TEXTBACK_CONFIG": str(config),
        "TEXTBACK_CRM_WEBHOOK_URL": "https://crm.example/hooks",
    }
    with pytest.raises(ValueError, match="TEXTBACK_CRM_WEBHOOK_SECRET"):
        load_settings(env, require_credentials=False)
    with pytest.raises(ValueError, match="is not a URL"):
        load_settings(
            {
                **env,
                "TEXTBACK_CRM_WEBHOOK_URL": "crm.example",
                "TEXTBACK_CRM_WEBHOOK_SECRET": SECRET,
            },
            require_credentials=False,
        )
    settings = load_settings(
        {**env, "TEXTBACK_CRM_WEBHOOK_SECRET": SECRET}, require_credentials=False
    )
    assert settings.crm_webhook_url == "https://crm.example/hooks"
    assert SECRET not in repr(settings)


async def test_a_line_may_send_its_leads_to_its_own_url(
    receiver: Receiver, redis_url: str, redis: Redis, tmp_path: Path, clock: FakeClock
) -> None:
    """An agency: line A's leads go to client A's CRM, line B's to the install's URL."""
    other = Receiver()
    await other.start()
    try:
        config = parse_config(CONFIG_YAML.replace(
            "    vertical: plumbing\n", f"    vertical: plumbing\n    crm_webhook: {other.url}\n"), "test.yml")
        settings = rig_settings(config, redis_url=redis_url, data_dir=tmp_path)
        rig = Rig(replace(settings, crm_webhook_url=receiver.url, crm_webhook_secret=SECRET), clock=clock)
        async with rig:
            await rig.missed_call(CALLER, LINE)
            await rig.missed_call(CALLER, LINE_B)
            await rig.settle()
            await other.wait_for(1)
            await receiver.wait_for(1)
        assert [p["lead"]["line"] for p in other.payloads()] == [LINE]
        assert [p["lead"]["line"] for p in receiver.payloads()] == [LINE_B]
    finally:
        await other.stop()


def test_a_line_webhook_needs_the_signing_secret_too(tmp_path: Path) -> None:
    config = tmp_path / "lines.yml"
    config.write_text(CONFIG_YAML.replace("    vertical: plumbing\n",
                                          "    vertical: plumbing\n    crm_webhook: https://crm.example/a\n"))
    with pytest.raises(ValueError, match="TEXTBACK_CRM_WEBHOOK_SECRET.*crm_webhook"):
        load_settings({"TEXTBACK_CONFIG": str(config)}, require_credentials=False)


async def test_a_delivery_queued_on_another_instance_is_sent_without_waiting_for_a_look(
    receiver: Receiver, redis: Redis, redis_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    async with crm_rig(receiver, redis_url, tmp_path, clock) as rig:
        # The lead's sending job goes straight into the stream, where every worker waits.
        await queue_elsewhere(redis, clock.now())
        await receiver.wait_for(1)
        assert receiver.payloads()[0]["event"] == "lead.created"
        await rig.settle()
        assert not await redis.exists(sending_job())


async def test_deliveries_an_older_version_left_waiting_are_sent(
    receiver: Receiver, redis: Redis, redis_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    """Upgrading: the older CRM sender kept waiting leads in its own set; the new start adopts them."""
    await queue_elsewhere(redis, clock.now())
    # As the older version wrote it: the outbox, and the lead in its due set instead of a job.
    await redis.delete(sending_job())
    await redis.delete(keys.JOBS)
    await redis.zadd(keys.OLD_CRM_DUE, {lead_id(LINE, CALLER): clock.now().timestamp()})
    async with crm_rig(receiver, redis_url, tmp_path, clock) as rig:
        await receiver.wait_for(1)
        await rig.settle()
        assert not await redis.exists(keys.OLD_CRM_DUE, sending_job())
    assert receiver.payloads()[0]["event"] == "lead.created"
