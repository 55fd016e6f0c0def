"""Checks a Twilio REST request against the published OpenAPI description, plus the rules the
description leaves out (see ../shared/specs/README.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker, ValidationError
from jsonschema.validators import extend

# Fields sent once per item (`MediaUrl=a&MediaUrl=b`): the array properties of CreateMessage and
# CreateCall. Hard-coded so a request is recorded the same way with or without the spec; a test
# keeps the set equal to the spec's.
ARRAY_FIELDS = frozenset({"MediaUrl", "PersistentAction", "StatusCallbackEvent", "RecordingStatusCallbackEvent"})

BODY_MAX_CHARS = 1600
MEDIA_MAX = 10
TWIML_MAX_CHARS = 4000

# Twilio's documented codes for the rules checked here.
FROM_REQUIRED = 21603
BODY_OR_MEDIA_REQUIRED = 21619
BODY_TOO_LONG = 21617
# The stand-in's own code for anything else the spec refuses (Twilio's 21xxx range is the
# request-validation range; real Twilio is more lenient and may ignore an unknown field).
INVALID_REQUEST = 21000

Params = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    code: int
    message: str


# --- formats the spec names (jsonschema checks only those registered here) ----------------

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_CHANNEL_ADDRESS = re.compile(r"^[a-z]+:\S+$")  # whatsapp:+1..., client:alice, sip:...
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


def _is_address(value: object) -> bool:
    # A national number without "+" is the typical mistake this catches.
    if not isinstance(value, str):
        return True
    patterns = (_E164, _CHANNEL_ADDRESS, _SHORT_CODE, _ALPHANUMERIC_SENDER)
    return any(p.match(value) for p in patterns)


def _is_web_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    # Twilio refuses callback hosts with underscores (PROTOCOLS 4.2).
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in (parts.hostname or "")


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        pass
    try:
        parsedate_to_datetime(value)
        return True
    except (TypeError, ValueError):
        return False


def _format_checker() -> FormatChecker:
    # Twilio's own formats (phone-number, endpoint) plus the standard ones whose jsonschema
    # checkers need optional packages; any other format name is not checked.
    checker = FormatChecker(formats=())
    checks = {"phone-number": _is_address, "endpoint": _is_address, "uri": _is_web_url, "date-time": _is_date}
    for name, check in checks.items():
        checker.checks(name)(check)
    return checker


FORMATS = _format_checker()


def _nullable_type(validator: Any, types: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    # OpenAPI 3.0's `nullable: true` is not JSON Schema: let None through where it is set.
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


OpenApiValidator = extend(Draft4Validator, {"type": _nullable_type})


class TwilioRules:
    """Request checks by operationId ("CreateMessage"); spec checks are skipped without a spec."""

    def __init__(self, spec: dict[str, Any] | None) -> None:
        self._spec = spec
        self._validators: dict[str, Any] = {}

    @property
    def spec_checked(self) -> bool:
        return self._spec is not None

    def check(self, operation_id: str, params: Params) -> list[Problem]:
        problems = self._spec_problems(operation_id, params)
        rule = _UNENCODED_RULES.get(operation_id)
        return problems + (rule(params) if rule else [])

    def resource_problems(self, schema_name: str, resource: dict[str, Any]) -> list[str]:
        """How `resource` departs from `components.schemas[schema_name]` (for tests)."""
        if self._spec is None:
            return []
        components = self._spec["components"]
        schema = {**components["schemas"][schema_name], "additionalProperties": False, "components": components}
        validator = OpenApiValidator(schema, format_checker=FORMATS)
        return [_describe(e) for e in validator.iter_errors(resource)]

    def _spec_problems(self, operation_id: str, params: Params) -> list[Problem]:
        validator = self._validator(operation_id)
        if validator is None:
            return []
        properties = validator.schema.get("properties", {})
        typed = {name: _typed(value, self._resolve(properties.get(name, {}))) for name, value in params.items()}
        errors = sorted(validator.iter_errors(typed), key=lambda e: e.message)
        return [Problem(INVALID_REQUEST, _describe(e)) for e in errors]

    def _validator(self, operation_id: str) -> Any:
        if self._spec is None:
            return None
        if operation_id not in self._validators:
            operation = _find_operation(self._spec, operation_id)
            schema = {**_params_schema(operation), "additionalProperties": False,
                      "components": self._spec["components"]}
            self._validators[operation_id] = OpenApiValidator(schema, format_checker=FORMATS)
        return self._validators[operation_id]

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref", "")
        if self._spec is None or not ref.startswith("#/components/schemas/"):
            return schema
        resolved: dict[str, Any] = self._spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved


def _find_operation(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise KeyError(f"operationId {operation_id!r} is not in the Twilio spec")


def _params_schema(operation: dict[str, Any]) -> dict[str, Any]:
    """The form body's schema for a POST; the query parameters as one object for a GET."""
    body = operation.get("requestBody")
    if body:
        form: dict[str, Any] = body["content"]["application/x-www-form-urlencoded"]["schema"]
        return form
    # Header parameters (a `$ref` to X-Twilio-Api-Version in Messaging v1) are not the query's.
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    return {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in query},
        "required": [p["name"] for p in query if p.get("required")],
    }


def _typed(value: Any, schema: dict[str, Any]) -> Any:
    """A form string as the type the schema declares; left as is when it does not parse."""
    if isinstance(value, list):
        return [_typed(v, schema.get("items", {})) for v in value]
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _message_rules(p: Params) -> list[Problem]:
    problems = []
    if not (p.get("From") or p.get("MessagingServiceSid")):
        problems.append(Problem(FROM_REQUIRED, "A 'From' phone number or a 'MessagingServiceSid' is required."))
    if not (p.get("Body") or p.get("MediaUrl") or p.get("ContentSid")):
        problems.append(Problem(BODY_OR_MEDIA_REQUIRED, "A text message body or media urls must be specified."))
    body = str(p.get("Body") or "")
    if len(body) > BODY_MAX_CHARS:
        problems.append(Problem(BODY_TOO_LONG, f"The message body exceeds the 1600 character limit ({len(body)})."))
    if len(_items(p.get("MediaUrl"))) > MEDIA_MAX:
        problems.append(Problem(INVALID_REQUEST, f"At most {MEDIA_MAX} MediaUrl per message."))
    return problems


def _call_rules(p: Params) -> list[Problem]:
    problems = []
    if not (p.get("Url") or p.get("Twiml") or p.get("ApplicationSid")):
        problems.append(Problem(INVALID_REQUEST, "One of 'Url', 'Twiml' or 'ApplicationSid' is required."))
    if len(str(p.get("Twiml") or "")) > TWIML_MAX_CHARS:
        problems.append(Problem(INVALID_REQUEST, f"Twiml is limited to {TWIML_MAX_CHARS} characters."))
    return problems


_UNENCODED_RULES: dict[str, Callable[[Params], list[Problem]]] = {
    "CreateMessage": _message_rules,
    "CreateCall": _call_rules,
}
