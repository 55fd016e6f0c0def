"""The "Text a customer" global shortcut (PRODUCT §3.1): a modal with the number, the line and
the message, sent as `/textback text` would send it."""

from __future__ import annotations

from typing import Any

from bot import phones
from workflows.lines import Line

SHORTCUT = "tb_text_customer"
MODAL = "tb_text_modal"
LATE_OK = "late_ok"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def text_modal(lines: list[Line]) -> dict[str, Any]:
    """The modal: number, line (the first preselected), message, and a box for late hours."""
    options = [{"text": _plain(f"{line.label} {phones.display(line.number)}"[:75]), "value": line.number}
               for line in lines[:100]]
    return {
        "type": "modal", "callback_id": MODAL, "title": _plain("Text a customer"),
        "submit": _plain("Send"), "close": _plain("Cancel"),
        "blocks": [
            {"type": "input", "block_id": "number", "label": _plain("Customer's number"),
             "element": {"type": "plain_text_input", "action_id": "value", "placeholder": _plain("(512) 555-0123")}},
            {"type": "input", "block_id": "line", "label": _plain("From the line"),
             "element": {"type": "static_select", "action_id": "value", "options": options,
                         **({"initial_option": options[0]} if options else {})}},
            {"type": "input", "block_id": "message", "label": _plain("Message"),
             "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 1600}},
            {"type": "input", "block_id": "late", "optional": True, "label": _plain("Late hours"),
             "element": {"type": "checkboxes", "action_id": "value", "options": [
                 {"text": _plain("Send even if it is after 9 PM or before 8 AM for them"), "value": LATE_OK}]}},
        ],
    }


def submitted(view: Any) -> tuple[str, str, str, bool]:
    """The number, line, message and the late-hours box of a submitted modal ("" where absent)."""
    values = ((view or {}).get("state") or {}).get("values") or {} if isinstance(view, dict) else {}

    def field(block: str) -> Any:
        found = values.get(block, {}).get("value", {}) if isinstance(values.get(block), dict) else {}
        return found if isinstance(found, dict) else {}

    number = field("number").get("value") or ""
    line = (field("line").get("selected_option") or {}).get("value") or ""
    message = field("message").get("value") or ""
    late_ok = any(isinstance(o, dict) and o.get("value") == LATE_OK for o in field("late").get("selected_options") or [])
    return str(number), str(line), str(message), late_ok
