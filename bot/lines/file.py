"""The lines file: YAML in, a validated `Config` out, every problem tied to file, line and field.

pydantic checks the shape (unknown keys are errors); the composed YAML nodes give each value
and key its line, so an operator reads `textback.yml:9: lines[0].hours.mon: ...`.
"""

from __future__ import annotations

import typing
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.lines.schema import (
    FileModel,
    LineModel,
    OnCallModel,
    PersonModel,
    known_keys_hint,
    problem_text,
)
from workflows.lines import (
    DEFAULT_AFTER_HOURS_TEMPLATE,
    DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING,
    DEFAULT_BUSINESS_HOURS_TEMPLATE,
    DEFAULT_GREETING_NOT_TEXTED,
    DEFAULT_GREETING_TEXTED,
    Config,
    Greeting,
    Line,
    OnCall,
    OptOutWords,
    Person,
    Question,
    Shift,
    Templates,
    Urgency,
    WeeklyHours,
    parse_weekday,
)
from workflows.override_fields import with_exceptions

__all__ = ["ConfigError", "load_config", "parse_config"]

YamlPath = tuple[str | int, ...]

# Values that must stay text even when YAML would read them as a number or a boolean:
# `number: +15125550100` unquoted is an int to YAML, but the operator meant the phone number.
_TEXT_PATHS: tuple[YamlPath, ...] = (
    ("business",),
    ("admins", "*"),
    ("opt_out_scope",),
    ("retention",),
    *(
        ("lines", "*", *tail)
        for tail in (
            ("number",), ("channel",), ("forward_to",), ("forward_to", "*"), ("detection",),
            ("timezone",), ("hours", "*"), ("booking_url",), ("vertical",), ("templates", "*"), ("greeting", "*"),
            ("oncall",), ("name",), ("business",), ("quiet_hours",), ("oncall", "people"), ("oncall", "people", "*"),
            ("oncall", "people", "*", "user"), ("oncall", "people", "*", "phone"),
            ("staff", "*", "user"), ("staff", "*", "phone"), ("oncall", "backup"),
            ("oncall", "backup", "user"), ("oncall", "backup", "phone"), ("oncall", "handover"),
            ("oncall", "starts"), ("urgent", "add"), ("urgent", "add", "*"), ("urgent", "remove"),
            ("urgent", "remove", "*"), ("urgent", "safety_texts", "*"), ("questions",),
            ("questions", "*", "label"), ("questions", "*", "ask"), ("questions", "*", "choices", "*"), ("crm_webhook",), ("digest",),
            ("closed",), ("closed", "*"), ("special_hours", "*"), ("opt_out", "add"), ("opt_out", "add", "*"),
            ("opt_out", "remove"), ("opt_out", "remove", "*"), ("contact",),
        )
    ),
)


class ConfigError(ValueError):
    """The lines file is missing or invalid; `errors` holds one "file:line: field: problem" each."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _wants_text(path: YamlPath) -> bool:
    return any(
        len(p) == len(path) and all(a == "*" or a == b for a, b in zip(p, path, strict=True))
        for p in _TEXT_PATHS
    )


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Annotated, Optional, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _model_at(model: type[BaseModel], loc: YamlPath) -> type[BaseModel]:
    """The model whose keys are checked at `loc` (e.g. ("oncall",) -> OnCallModel)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        found = _models_in(field.annotation) if field else []
        if not found:
            break
        model = found[0]
    return model


def _dotted(path: YamlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Document:
    """Plain data built from composed YAML nodes, remembering where each key and value sits."""

    def __init__(self, root: Node, source: str) -> None:
        self.source = source
        self.value_lines: dict[YamlPath, int] = {}
        self.key_lines: dict[YamlPath, int] = {}
        self.errors: list[tuple[int, str]] = []
        self._constructor = SafeConstructor()
        self.data = self._build(root, ())

    def _build(self, node: Node, path: YamlPath) -> Any:
        self.value_lines[path] = node.start_mark.line + 1
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                # Keys stay as written: YAML 1.1 would turn `on:` or `1:` into True or 1.
                key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
                key_path = (*path, key)
                if key in result:
                    self.add(key_path, f'"{key}" appears twice: keep one', key=True, line=key_node.start_mark.line + 1)
                self.key_lines[key_path] = key_node.start_mark.line + 1
                result[key] = self._build(value_node, key_path)
            return result
        if isinstance(node, SequenceNode):
            return [self._build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            value = self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            # e.g. a `!!python/object` tag: safe loading refuses it, and so do we, with its line.
            self.add(path, f"cannot be read: {exc.problem}")
            return str(node.value)  # already reported; plain text avoids a second error here
        except ValueError:
            # e.g. 2027-13-01: YAML takes it for a date it cannot build; the text is checked where it is used.
            return str(node.value)
        if value is not None and not isinstance(value, str) and _wants_text(path):
            return str(node.value)
        return value

    def line_of(self, path: YamlPath, *, key: bool = False) -> int:
        """The line of a key (or its value); for something absent, the line of its nearest parent."""
        if key and path in self.key_lines:
            return self.key_lines[path]
        while path not in self.value_lines and path:
            path = path[:-1]
        return self.value_lines.get(path, 1)

    def add(self, path: YamlPath, problem: str, *, key: bool = False, line: int | None = None) -> None:
        """Record one problem as "file:line: field: problem"."""
        at = line or self.line_of(path, key=key)
        field = _dotted(path)
        self.errors.append((at, f"{self.source}:{at}: {field}: {problem}" if field else f"{self.source}:{at}: {problem}"))

    def add_validation(self, exc: ValidationError, model: type[BaseModel], prefix: YamlPath) -> None:
        """Turn pydantic's errors into located, readable ones."""
        for err in exc.errors():
            loc: YamlPath = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                nested = _model_at(model, loc[:-1])
                self.add((*prefix, *loc), f"unknown key ({known_keys_hint(str(loc[-1]), nested)})", key=True)
            elif loc and loc[-1] == "[key]":
                self.add((*prefix, *loc[:-1]), problem_text(err), key=True)
            else:
                self.add((*prefix, *loc), problem_text(err))


def _compose(text: str, source: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or "cannot be read"
        detail = f" ({exc.context})" if exc.context else ""
        hint = ": indent with spaces, not tabs" if "\\t" in problem else ""
        raise ConfigError([f"{source}:{line}: invalid YAML: {problem}{detail}{hint}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}:1: invalid YAML: {exc}"]) from None


def _check_line(doc: _Document, i: int, raw: dict[str, Any], model: LineModel) -> None:
    """Rules that involve several keys of one line."""
    here: YamlPath = ("lines", i)
    if model.detection == "dial" and not model.forward_to:
        said = 'detection is "dial"' if "detection" in raw else 'detection defaults to "dial"'
        doc.add(
            (*here, "detection") if "detection" in raw else (*here, "forward_to"),
            f'{said} but there is no forward_to phone to ring: add forward_to: ["+15125550111"], '
            "or set detection: forwarded if the carrier forwards missed calls to this number",
        )
    if model.number in model.forward_to:
        doc.add((*here, "forward_to"), f'"{model.number}" is the line\'s own number: ringing it would loop')
    for name in ("business_hours", "after_hours", "business_hours_es", "after_hours_es"):
        text = getattr(model.templates, name)
        if text and "{booking_url}" in text and not model.booking_url:
            doc.add((*here, "templates", name), "uses {booking_url} but the line has no booking_url: add one")
    for name in ("texted", "not_texted"):
        text = getattr(model.greeting, name)
        if text and "{booking_url}" in text and not model.booking_url:
            doc.add((*here, "greeting", name), "uses {booking_url} but the line has no booking_url: add one")
    for day in set(model.closed) & set(model.special_hours):
        doc.add((*here, "special_hours", day), f"{day} is also under closed: give the day once", key=True)
    # pydantic keys hours by weekday number, so "mon" and "monday" would silently merge.
    seen: dict[int, str] = {}
    for key in raw.get("hours") or {}:
        weekday = parse_weekday(key)
        if weekday in seen:
            doc.add((*here, "hours", key), f'"{key}" repeats "{seen[weekday]}": give each day once', key=True)
        seen[weekday] = key


def _to_oncall(model: OnCallModel | None) -> OnCall | None:
    if model is None:
        return None

    def person(p: PersonModel) -> Person:
        return Person(user=p.user, phone=p.phone)

    return OnCall(
        people=tuple(person(p) for p in model.people),
        handover_day=model.handover[0],
        handover_minute=model.handover[1],
        starts=date.fromisoformat(model.starts) if model.starts else None,
        backup=person(model.backup) if model.backup else None,
        call=model.call,
        escalate_after=model.escalate_after,
    )


def _to_questions(model: LineModel) -> tuple[Question, ...]:
    return tuple(
        Question(label=q.label, ask=q.ask, kind=q.type, choices=tuple(c.lower() for c in q.choices))  # type: ignore[arg-type]
        for q in model.questions
    )


def _hours(model: LineModel) -> WeeklyHours | None:
    """The weekly hours with the dated closures and special hours laid over them."""
    exceptions: dict[date, tuple[Shift, ...]] = {date.fromisoformat(d): () for d in model.closed}
    exceptions.update({date.fromisoformat(d): tuple(s) for d, s in model.special_hours.items()})
    weekly = None if model.hours is None else WeeklyHours(days=dict(model.hours))
    return with_exceptions(weekly, exceptions) if exceptions else weekly


def _to_line(model: LineModel, business: str, average_job_value: float | None = None) -> Line:
    booking = model.booking_url
    templates = Templates(
        business_hours=model.templates.business_hours or DEFAULT_BUSINESS_HOURS_TEMPLATE,
        after_hours=model.templates.after_hours
        or (DEFAULT_AFTER_HOURS_TEMPLATE if booking else DEFAULT_AFTER_HOURS_TEMPLATE_NO_BOOKING),
        business_hours_es=model.templates.business_hours_es or "",
        after_hours_es=model.templates.after_hours_es or "",
    )
    return Line(
        number=model.number,
        channel=model.channel,
        business=model.business or business,
        timezone=model.timezone,
        forward_to=tuple(model.forward_to),
        detection=model.detection,  # type: ignore[arg-type]  # checked against the Literal
        hours=_hours(model),
        booking_url=booking,
        vertical=model.vertical,
        templates=templates,
        greeting=Greeting(texted=model.greeting.texted or DEFAULT_GREETING_TEXTED,
                          not_texted=model.greeting.not_texted or DEFAULT_GREETING_NOT_TEXTED),
        oncall=_to_oncall(model.oncall),
        urgency=Urgency(
            add=tuple(model.urgent.add),
            remove=tuple(model.urgent.remove),
            safety_texts=tuple(model.urgent.safety_texts.items()),
        ),
        reminders=tuple(model.reminders),
        cooldown=model.cooldown,
        ring_timeout=model.ring_timeout,
        ring_after_hours=model.ring_after_hours,
        opt_out_footer=model.opt_out_footer,
        allow_international=model.allow_international,
        questions=_to_questions(model),
        crm_webhook=model.crm_webhook,
        digest=model.digest,
        voicemail=model.voicemail,
        screen=model.screen if model.screen is not None else model.detection == "dial",
        staff=tuple(Person(user=p.user, phone=p.phone) for p in model.staff),
        transcribe=model.transcribe,
        lookup=model.lookup,
        quiet_hours=model.quiet_hours,
        name=model.name,
        average_job_value=model.average_job_value if model.average_job_value is not None else average_job_value,
        opt_out_words=OptOutWords(add=tuple(model.opt_out.add), remove=tuple(model.opt_out.remove)),
        contact=model.contact,
    )


def parse_config(text: str, source: str) -> Config:
    """Validate lines-file text; `source` names it in messages. Raises ConfigError listing every problem."""
    root = _compose(text, source)
    if root is None:
        raise ConfigError([f"{source}:1: the file is empty: it needs business: and lines: (see textback.example.yml)"])
    doc = _Document(root, source)
    top: FileModel | None = None
    if not isinstance(doc.data, dict):
        doc.add((), "expected keys like business: and lines: at the top of the file")
    else:
        try:
            top = FileModel.model_validate(doc.data)
        except ValidationError as exc:
            doc.add_validation(exc, FileModel, ())
    raw_lines = doc.data.get("lines") if isinstance(doc.data, dict) else None
    lines: list[Line] = []
    owners: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(raw_lines if isinstance(raw_lines, list) else []):
        if not isinstance(raw, dict):
            doc.add(("lines", i), 'expected the keys of one line, e.g. - number: "+15125550100"')
            continue
        try:
            model = LineModel.model_validate(raw)
        except ValidationError as exc:
            doc.add_validation(exc, LineModel, ("lines", i))
            continue
        _check_line(doc, i, raw, model)
        for field in ("number", "channel"):
            value = getattr(model, field)
            if (field, value) in owners:
                doc.add(("lines", i, field), f'"{value}" is already used by lines[{owners[field, value]}]: each line needs its own')
            owners.setdefault((field, value), i)
        lines.append(_to_line(model, top.business if top else "", top.average_job_value if top else None))
    if doc.errors or top is None:
        raise ConfigError([message for _, message in sorted(doc.errors, key=lambda e: e[0])])
    return Config(business=top.business, lines=tuple(lines), admins=tuple(top.admins),
                  opt_out_scope=top.opt_out_scope,  # type: ignore[arg-type]  # checked against the Literal
                  retention_days=top.retention,
                  average_job_value=top.average_job_value)


def load_config(path: Path) -> Config:
    """Read and validate the lines file at `path`; ConfigError says what to fix."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                (f"{source}: lines file not found (looked for {Path(path).resolve()}): create it from "
                "textback.example.yml, or set TEXTBACK_CONFIG to the lines file's path")
            ]
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a directory: set TEXTBACK_CONFIG to the lines file itself"]) from None
    except PermissionError:
        raise ConfigError([f"{source}: cannot be read (permission denied)"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: is not UTF-8 text (byte {exc.start}): save it as UTF-8"]) from None
    return parse_config(text, source)
