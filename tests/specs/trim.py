"""Trimmed copies of the published Slack and Twilio specs: the parts the tests check.

The full files live beside the checkout (`../shared/specs`, see standins/specs.py); a clone
without them uses the copies in this folder, so its tests check the same rules. The copies keep
every operation or method the stand-ins answer and the code calls, with everything they refer
to (`$ref`), and nothing else. tests/unit/test_trimmed_specs.py holds them in step with the full
files whenever those are present.

    python -m tests.specs.trim [FULL_SPECS_DIR]   # rewrite the copies from the full files
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Operations the Twilio stand-in answers and checks (standins/twilio_api.py, twilio_numbers.py).
TWILIO_API_OPERATIONS = ("CreateMessage", "ListMessage", "FetchMessage", "CreateCall", "FetchAccount",
                         "ListIncomingPhoneNumber", "UpdateIncomingPhoneNumber")
TWILIO_LOOKUPS_OPERATIONS = ("FetchPhoneNumber",)
# Messaging v1, read by `textback doctor` (standins/twilio_messaging.py answers them).
TWILIO_MESSAGING_OPERATIONS = ("ListService", "ListPhoneNumber", "ListUsAppToPerson", "ListTollfreeVerification")
# Web API methods the code calls or the Slack stand-in emulates (tests/unit/slack_calls.py
# finds the calls; test_trimmed_specs.py checks this list covers them).
SLACK_METHODS = ("auth.test", "chat.getPermalink", "chat.postEphemeral", "chat.postMessage", "chat.update",
                 "conversations.history", "conversations.info", "conversations.open", "conversations.replies",
                 "reactions.add", "users.info", "views.open", "views.publish")
# Small enough to keep whole.
WHOLE = ("slack/manifest.schema.1.0.0.json",)

TRIMMED = {
    "twilio/twilio_api_v2010.json": ("openapi", TWILIO_API_OPERATIONS),
    "twilio/twilio_lookups_v2.json": ("openapi", TWILIO_LOOKUPS_OPERATIONS),
    "twilio/twilio_messaging_v1.json": ("openapi", TWILIO_MESSAGING_OPERATIONS),
    "slack/slack_web_openapi_v2.json": ("swagger", SLACK_METHODS),
}


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _with_refs(full: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """`kept` plus every local `$ref` target it reaches in `full`, at the same place."""
    seen: set[str] = set()
    todo = _refs(kept)
    while todo:
        ref = todo.pop()
        if ref in seen or not ref.startswith("#/"):
            continue
        seen.add(ref)
        *parents, name = ref[2:].split("/")
        source: Any = full
        target = kept
        for part in parents:
            source = source[part]
            target = target.setdefault(part, {})
        target[name] = copy.deepcopy(source[name])
        todo |= _refs(source[name])
    return kept


def trim_openapi(full: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """The path items holding these operationIds, whole, and what they refer to."""
    wanted = set(operations)
    paths = {path: item for path, item in full["paths"].items()
             if any(isinstance(op, dict) and op.get("operationId") in wanted for op in item.values())}
    found = {op.get("operationId") for item in paths.values() for op in item.values() if isinstance(op, dict)}
    if missing := wanted - found:
        raise KeyError(f"not in the spec: {sorted(missing)}")
    kept = {k: copy.deepcopy(v) for k, v in full.items() if k not in ("paths", "components", "tags")}
    kept["paths"] = copy.deepcopy(paths)
    kept["components"] = {"securitySchemes": copy.deepcopy(full["components"].get("securitySchemes", {}))}
    return _with_refs(full, kept)


def trim_swagger(full: dict[str, Any], methods: tuple[str, ...]) -> dict[str, Any]:
    """The paths of these Web API methods, and the definitions they refer to."""
    missing = [m for m in methods if "/" + m not in full["paths"]]
    if missing:
        raise KeyError(f"not in the spec: {missing}")
    kept = {k: copy.deepcopy(v) for k, v in full.items() if k not in ("paths", "definitions", "tags")}
    kept["paths"] = {"/" + m: copy.deepcopy(full["paths"]["/" + m]) for m in sorted(methods)}
    return _with_refs(full, kept)


def trimmed(full_dir: Path) -> dict[str, Any]:
    """Each copy's relative path and content, made from the full files in `full_dir`."""
    out: dict[str, Any] = {}
    for relative, (kind, names) in TRIMMED.items():
        full = json.loads((full_dir / relative).read_text(encoding="utf-8"))
        out[relative] = trim_openapi(full, names) if kind == "openapi" else trim_swagger(full, names)
    for relative in WHOLE:
        out[relative] = json.loads((full_dir / relative).read_text(encoding="utf-8"))
    return out


def main(argv: list[str]) -> int:
    from standins import specs

    full_dir = Path(argv[0]) if argv else specs.full_specs_dir()
    if full_dir is None or not full_dir.is_dir():
        print("the full specs were not found: pass their directory (../shared/specs)", file=sys.stderr)
        return 2
    for relative, content in trimmed(full_dir).items():
        path = HERE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{relative}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
