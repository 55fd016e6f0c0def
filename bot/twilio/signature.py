"""The signing helpers' old address: they live in bot/twilio/webhooks.py with the routes they guard.

Only standins/rig.py still imports them from here; once it imports bot.twilio.webhooks,
delete this module.
"""

from __future__ import annotations

from bot.twilio.webhooks import compute, public_request_url, verify

__all__ = ["compute", "public_request_url", "verify"]
