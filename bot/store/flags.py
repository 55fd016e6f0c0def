"""`RedisCallerFlags`'s old address: it lives in bot/store/conversations.py now.

Only bot/services.py still imports it from here; once it imports bot.store.conversations,
delete this module.
"""

from __future__ import annotations

from bot.store.conversations import RedisCallerFlags

__all__ = ["RedisCallerFlags"]
