"""The bot token scopes textback needs: exactly those app-manifest.yml declares.

`textback doctor` compares them with what Slack granted; tests/unit/test_manifest.py keeps this
list equal to the manifest's and checks it covers every Web API method the code calls.
"""

from __future__ import annotations

BOT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "chat:write",
    "commands",
    "reactions:write",
    "files:write",
    "files:read",
    "users:read",
    "im:write",
)
