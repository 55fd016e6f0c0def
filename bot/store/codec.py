"""Conversation <-> JSON, as stored in Redis."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from workflows.conversation import Caller, Conversation

_DATES = ("opened_at", "last_event_at")


def dumps(conv: Conversation) -> str:
    """Serialise a conversation for storage."""
    # A shallow copy: the record holds only scalars, the caller and a dict of strings, and
    # dataclasses.asdict's deep copy was a tenth of the CPU a missed call costs.
    data = dict(vars(conv))
    data["caller"] = dict(vars(conv.caller))
    for name in _DATES:
        value = data[name]
        data[name] = value.isoformat() if isinstance(value, datetime) else None
    return json.dumps(data, separators=(",", ":"))


def loads(raw: str | bytes) -> Conversation:
    """Rebuild a conversation from storage."""
    data: dict[str, Any] = json.loads(raw)
    data["caller"] = Caller(**data["caller"])
    for name in _DATES:
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    return Conversation(**data)
