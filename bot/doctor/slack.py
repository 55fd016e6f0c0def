"""`textback doctor`, the Slack part: the token, the scopes it was granted, each line's channel."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.doctor.report import Finding, reason
from bot.settings import Settings
from bot.slack.scopes import BOT_SCOPES

TIMEOUT_S = 10.0
APP_SETTINGS = "api.slack.com/apps -> your app"


async def check_slack(settings: Settings) -> list[Finding]:
    """auth.test, then the granted scopes and every line's channel (skipped if the token fails)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
        client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, session=session)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                auth = await client.auth_test()
        except SlackApiError as exc:
            return [_token_refused(str(exc.response.get("error")))]
        except (aiohttp.ClientError, TimeoutError) as exc:
            return [Finding(False, "Slack", f"cannot reach {settings.slack_api_url}: {reason(exc)}",
                            "check the network, or unset SLACK_API_URL to use slack.com")]
        bot = str(auth.get("user") or "textback")
        findings = [Finding(True, "Slack token", f'valid, team "{auth.get("team")}" as @{bot}')]
        findings.append(_scopes(auth.headers))
        for channel in dict.fromkeys(line.channel for line in settings.config.lines):
            findings.append(await _channel(client, channel, bot))
        return findings


def _token_refused(error: str) -> Finding:
    fix = (f"copy the Bot User OAuth Token (xoxb-...) from {APP_SETTINGS} -> OAuth & Permissions, "
           "then: fly secrets set SLACK_BOT_TOKEN=xoxb-...")
    if error == "account_inactive":
        fix = f"the app was uninstalled or its token revoked: reinstall it ({APP_SETTINGS} -> Install App), then {fix}"
    return Finding(False, "Slack token", f"refused by Slack ({error})", fix)


def _scopes(headers: Mapping[str, Any]) -> Finding:
    raw = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if raw is None:
        return Finding(False, "Slack scopes", "Slack did not say which scopes the token has",
                       "check SLACK_API_URL: only slack.com's API reports them")
    granted = {s.strip() for s in raw.split(",") if s.strip()}
    missing = [s for s in BOT_SCOPES if s not in granted]
    if missing:
        return Finding(False, "Slack scopes", f"missing {', '.join(missing)}",
                       f"add them in {APP_SETTINGS} -> OAuth & Permissions -> Bot Token Scopes (or update the app "
                       "from app-manifest.yml), then reinstall the app to the workspace")
    return Finding(True, "Slack scopes", f"all {len(BOT_SCOPES)} needed scopes granted")


async def _channel(client: AsyncWebClient, channel: str, bot: str) -> Finding:
    what = f"Slack channel {channel}"
    try:
        async with asyncio.timeout(TIMEOUT_S):
            info = (await client.conversations_info(channel=channel)).get("channel") or {}
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error == "channel_not_found":
            return Finding(False, what, "Slack shows no such channel to the bot",
                           f"check `channel:` in the lines file (channel details -> the ID at the bottom); "
                           f"for a private channel, first /invite @{bot} there")
        return Finding(False, what, f"cannot read it ({error})", "grant the missing scopes above")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Finding(False, what, f"no answer from Slack: {reason(exc)}", "run textback doctor again")
    name = f"#{info.get('name')}" if info.get("name") else channel
    what = f"Slack channel {name} ({channel})"
    if info.get("is_archived"):
        return Finding(False, what, "is archived", "unarchive it, or point the line at another channel")
    if not info.get("is_member"):
        return Finding(False, what, "the bot is not a member, so it cannot post threads there",
                       f"in Slack, open {name} and type /invite @{bot}")
    return Finding(True, what, "the bot is a member")
