"""A refused body or query in plain words: msgspec's "Expected `str` matching regex '^\\+[1-9]...'" becomes
"must be a phone number in E.164 form, e.g. +14155550123", and an unknown value names the ones allowed."""

from __future__ import annotations

import enum
import re
from typing import Any

import msgspec

from proto.api import E164_PATTERN, EMAIL_PATTERN, RFC3339_PATTERN
from proto.base import CommandError

_TIME = "an RFC 3339 time with a zone, e.g. 2026-12-07T15:00:00Z"
FORMATS: dict[str, str] = {
    E164_PATTERN: "a phone number in E.164 form, e.g. +14155550123",
    EMAIL_PATTERN: "an email address, e.g. dev@example.com",
    RFC3339_PATTERN: _TIME,
    r"^$|" + RFC3339_PATTERN: _TIME + " (or empty)",
}
"""The shared formats of the public API (``proto.api``) in words. A field of another pattern is described
by its own schema: its description and example, as the API reference shows them."""

_JSON_TYPES = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
               "object": "an object", "array": "an array", "null": "null"}

_PATH_RE = re.compile(r"`\$\.?([^`]*)`")
_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^Expected `str` matching regex '(.*)'$"),
     lambda m: "is not in the form the API reference (/docs) gives for it"),
    (re.compile(r"^Expected `str` of length >= 1$"), lambda m: "must not be empty"),
    (re.compile(r"^Expected `str` of length >= (\d+)$"), lambda m: f"must be at least {m.group(1)} characters"),
    (re.compile(r"^Expected `str` of length <= (\d+)$"), lambda m: f"must be at most {m.group(1)} characters"),
    (re.compile(r"^Expected `array` of length >= (\d+)$"), lambda m: f"must have at least {m.group(1)} item"
                                                                      + ("s" if m.group(1) != "1" else "")),
    (re.compile(r"^Expected `array` of length <= (\d+)$"), lambda m: f"must have at most {m.group(1)} items"),
    (re.compile(r"^Expected `(?:int|float)` >= (\S+)$"), lambda m: f"must be at least {m.group(1)}"),
    (re.compile(r"^Expected `(?:int|float)` <= (\S+)$"), lambda m: f"must be at most {m.group(1)}"),
    (re.compile(r"^Expected `(?:int|float)` > (\S+)$"), lambda m: f"must be more than {m.group(1)}"),
    (re.compile(r"^Expected `(\w+)( \| null)?`, got `(\w+)`$"),
     lambda m: f"must be {_JSON_TYPES.get(m.group(1), m.group(1))}{' (or null)' if m.group(2) else ''}, "
               f"not {_JSON_TYPES.get(m.group(3), m.group(3))}"),
]


def plain(text: str) -> str:
    """msgspec's reason in words (as it is when no rule knows it)."""
    for rule, say in _RULES:
        m = rule.match(text)
        if m:
            return str(say(m))
    return text


def field_info(typ: Any, path: list[str]) -> tuple[Any, dict[str, Any]]:
    """msgspec's description of the field at ``path`` (wire names; list indexes as digits) of ``typ``, and
    its schema's words (``description``, ``examples``) when it has them."""
    info: Any = msgspec.inspect.type_info(typ)
    for step in path:
        info = _inner(info)[0]
        if isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.encode_name == step), None)
        elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.FrozenSetType,
                               msgspec.inspect.VarTupleType)) and step.isdigit():
            info = info.item_type
        elif isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        else:
            return None, {}
        if info is None:
            return None, {}
    return _inner(info)


def allowed_values(info: Any) -> list[str] | None:
    """The values a literal or enum field takes."""
    if isinstance(info, msgspec.inspect.LiteralType):
        return [str(v) for v in info.values]
    if isinstance(info, msgspec.inspect.EnumType) and issubclass(info.cls, enum.Enum):
        return [str(m.value) for m in info.cls]
    return None


def _format(info: Any, doc: dict[str, Any]) -> str | None:
    """What a string field with a pattern must be (its length is part of its form): a shared format in
    words, else the field's own description and example."""
    if not isinstance(info, msgspec.inspect.StrType) or info.pattern is None:
        return None
    if info.pattern in FORMATS:
        return f"must be {FORMATS[info.pattern]}"
    described = str(doc.get("description") or "")
    examples = doc.get("examples") or []
    if not described and not examples:
        return None
    return "is not valid" + (f": {described}" if described else "") + (f", e.g. {examples[0]}" if examples else "")


def _inner(info: Any, doc: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    doc = dict(doc or {})
    while isinstance(info, msgspec.inspect.Metadata):
        doc = {**(info.extra_json_schema or {}), **doc}  # (the innermost words win)
        info = info.type
    if isinstance(info, msgspec.inspect.UnionType):  # an optional field: the type besides null
        rest = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(rest) == 1:
            return _inner(rest[0], doc)
    return info, doc


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError, where: str = "body",
                     typ: Any = None) -> CommandError:
    """400 VALIDATION_ERROR naming the field (``details.field``, dotted) and what it must be."""
    msg = str(exc)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return CommandError("VALIDATION_ERROR", f"{where}: malformed JSON ({msg})", 400, {"field": where})
    m = _PATH_RE.search(msg)
    path = m.group(1).replace("[", ".").replace("]", "") if m else ""
    text = msg.split(" - at ")[0]
    if "Object missing required field" in text:
        missing = text.split("`")[1] if "`" in text else ""
        path = f"{path}.{missing}" if path else missing
        text = "is required"
    elif "Object contains unknown field" in text:
        unknown = text.split("`")[1] if "`" in text else ""
        path = f"{path}.{unknown}" if path else unknown
        text = "is not a field of this request (unknown fields are refused, so a typo is not silently ignored)"
    else:
        info, doc = field_info(typ, path.split(".") if path else []) if typ is not None else (None, {})
        values, fmt = allowed_values(info), _format(info, doc)
        if text.startswith("Invalid enum value") and values:
            text = f"{text[len('Invalid enum value '):]} is not one of: {', '.join(values)}"
        elif fmt is not None and text.startswith("Expected `str` "):  # a pattern, or a length outside it
            text = fmt
        else:
            text = plain(text)
    label = path or where
    return CommandError("VALIDATION_ERROR", f"{label}: {text}", 400, {"field": label})
