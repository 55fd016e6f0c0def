"""Photos both ways: a caller's MMS attachments copied into the thread as files, and pictures a
team member posts in the thread sent to the caller as one MMS.

The rules (which types, how big, which lines can carry pictures) and the two steps that use
them; the bytes themselves move at the edges, behind the `CallerMedia` and `TeamMedia` ports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.conversation import Conversation, Entry, MediaItem, SharedFile
from workflows.ports import CallerMedia, RetryLater, StepLog, TeamMedia, ThreadChat
from workflows.texting import post_once

# Twilio's MMS limit, and so the most a caller's attachment can be; the same cap for pictures
# sent out (PROTOCOLS 2.5: 5 MB for jpeg/png/gif).
MAX_MEDIA_BYTES = 5 * 1024 * 1024
# How long a picture served to Twilio stays fetchable: Twilio fetches it within seconds of
# the send; an hour covers its own retries and ours.
SERVED_FOR = timedelta(hours=1)
# A download or upload that failed for a moment (5xx, timeout) is tried again with the job
# for this long after the text arrived; after that the thread gets a link instead.
MEDIA_RETRY_WINDOW = timedelta(minutes=3)

# What a caller's MMS may be copied into Slack as: pictures, short videos and voice notes,
# contact cards and PDFs. Nothing a browser would run (HTML, SVG) and nothing unnamed.
CALLER_TYPES: dict[str, str] = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "image/heic": "heic", "image/heif": "heif", "image/bmp": "bmp",
    "video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov",
    "audio/amr": "amr", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/ogg": "ogg",
    "text/vcard": "vcf", "text/x-vcard": "vcf", "application/pdf": "pdf",
}
# What goes out as MMS: the three types every US carrier takes up to 5 MB (PROTOCOLS 2.5).
MMS_TYPES: dict[str, bytes] = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/gif": b"GIF8"}
# US and Canadian toll-free area codes: textback sends pictures from local numbers only.
TOLL_FREE = frozenset({"800", "833", "844", "855", "866", "877", "888"})


def media_type(content_type: str) -> str:
    """`image/jpeg` from `image/jpeg; charset=...`, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def caller_type_problem(declared: str, served: str) -> str:
    """Why a caller's attachment may not be copied ("" when it may): an unknown type, or bytes
    served as something other than Twilio said they were."""
    kind = media_type(declared)
    if kind not in CALLER_TYPES:
        return f"its type ({kind or 'none given'}) is not one textback copies"
    if media_type(served) != kind:
        return f"Twilio served it as {media_type(served) or 'no type'}, not {kind}"
    return ""


def looks_like(kind: str, head: bytes) -> bool:
    """Whether the first bytes of a file are a picture of that type (a Slack sign-in page is not)."""
    magic = MMS_TYPES.get(media_type(kind))
    return magic is not None and head.startswith(magic)


def mms_refusal(line: str, caller: str) -> str:
    """Why pictures cannot go from `line` to `caller` ("" when they can): textback sends MMS only
    between US and Canadian (+1) numbers, from a line that is not toll-free."""
    if not line.startswith("+1") or line[2:5] in TOLL_FREE:
        return "this line's number cannot send pictures (only US and Canadian local numbers can)"
    if not caller.startswith("+1"):
        return "pictures go only to US and Canadian numbers"
    return ""


def file_problem(f: SharedFile) -> str:
    """Why one file posted in the thread cannot go out as MMS ("" when it can)."""
    if media_type(f.mimetype) not in MMS_TYPES:
        return "only JPEG, PNG and GIF pictures can be texted"
    if f.size > MAX_MEDIA_BYTES:
        return f"it is {f.size / 1024 / 1024:.1f} MB, over the 5 MB a text can carry"
    if not f.url:
        return "Slack did not give textback access to it"
    return ""


@dataclass(frozen=True)
class MmsPlan:
    """What of a team reply's files goes out, and what the thread is told about the rest."""

    pictures: tuple[SharedFile, ...]
    warnings: tuple[str, ...]


def plan_mms(files: Sequence[SharedFile], refusal: str) -> MmsPlan:
    """Split the files of a reply into pictures to send and warnings, one per file left out."""
    if refusal and files:
        names = ", ".join(f.name for f in files)
        return MmsPlan((), (f"{names}: not sent, {refusal}",))
    pictures: list[SharedFile] = []
    warnings: list[str] = []
    for f in files:
        problem = file_problem(f)
        if problem:
            warnings.append(f"{f.name}: not sent, {problem}")
        elif len(pictures) < 10:  # Twilio's limit per message
            pictures.append(f)
        else:
            warnings.append(f"{f.name}: not sent, a text carries at most 10 pictures")
    kept: list[SharedFile] = []
    for f in pictures:  # Twilio refuses a message whose media add up to more than 5 MB
        if sum(k.size for k in kept) + f.size <= MAX_MEDIA_BYTES:
            kept.append(f)
        else:
            warnings.append(f"{f.name}: not sent, the pictures together are over 5 MB")
    return MmsPlan(tuple(kept), tuple(warnings))


async def copy_caller_media(
    conv: Conversation, items: Sequence[MediaItem], *, message_id: str, arrived: datetime, files: CallerMedia,
    chat: ThreadChat, steps: StepLog, now: datetime,
) -> None:
    """Each attachment of a caller's text into the thread as a file, exactly once; one that
    cannot be copied is shown as a link with the reason."""
    for n, item in enumerate(items, 1):
        name = f"media:{n}"
        if await steps.get(name) is not None:
            continue
        moved = await files.copy_to_thread(conv, item, filename=f"{message_id}-{n}")
        if not moved.ok and moved.transient and now - arrived < MEDIA_RETRY_WINDOW:
            raise RetryLater(f"attachment {n}: {moved.reason}")
        if not moved.ok:
            text = f"Attachment {n} could not be copied here: {moved.reason}. Twilio's link (it may ask for a password):"
            link = Entry("system", text, media=(item.url,), at=now, icon="paperclip")
            await post_once(steps, f"{name}:link", chat, conv, link, now)
        await steps.put(name, "copied" if moved.ok else "linked")


async def publish_pictures(
    pictures: Sequence[SharedFile], *, media: TeamMedia, steps: StepLog, now: datetime
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The carrier-fetchable URLs of a reply's pictures, made once per job (a re-run sends the
    same ones), and a warning for each picture that could not be fetched from the chat."""
    done = await steps.get("media")
    if done is not None:
        record = json.loads(done)
        return tuple(record["urls"]), tuple(record["warnings"])
    urls: list[str] = []
    warnings: list[str] = []
    for f in pictures:
        moved = await media.publish(f, now=now)
        if moved.ok:
            urls.append(moved.url)
        elif moved.transient:
            raise RetryLater(f"picture {f.name}: {moved.reason}")
        else:
            warnings.append(f"{f.name}: not sent, {moved.reason}")
    await steps.put("media", json.dumps({"urls": urls, "warnings": warnings}))
    return tuple(urls), tuple(warnings)
