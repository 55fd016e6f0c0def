"""What Slack hears when one of our Bolt listeners raises: a retry while Redis is away, a
refusal for a shape Slack does not send, and a 500 only for a real fault; one log line each,
never the body."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.slack.listeners import on_listener_error


def raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize("error", [RedisConnectionError("refused"), RedisTimeoutError("slow")])
async def test_redis_away_asks_slack_to_send_it_again(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    resp = await on_listener_error(raised(error))
    assert resp.status == 503
    assert resp.headers["retry-after"] == ["5"]
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert caplog.records[0].exc_info is None


@pytest.mark.parametrize("error", [AttributeError("'str' object has no attribute 'get'"), KeyError("id"),
                                   TypeError("unhashable type: 'list'")])
async def test_a_shape_slack_does_not_send_is_refused_with_400(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await on_listener_error(raised(error))
    assert resp.status == 400
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert type(error).__name__ in caplog.records[0].getMessage()
    assert "test_listener_errors.py" in caplog.records[0].getMessage()


async def test_any_other_fault_is_a_500_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    resp = await on_listener_error(raised(RuntimeError("a bug")))
    assert resp.status == 500
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert caplog.records[0].exc_info is not None
