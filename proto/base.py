"""Base types every event and command derives from, and the typed command error."""

from __future__ import annotations

import functools
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, ForwardRef, Generic, TypeVar, get_args

import msgspec

Time = Annotated[datetime, msgspec.Meta(tz=True)]
"""A time on the bus: a datetime with its zone (our own are UTC), which msgspec writes as RFC 3339 and reads
back; a time without a zone is refused (an older event's goes through its upcasters)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class _TimeOrderedIds:
    """Version-7 UUIDs (RFC 9562, section 5.7): the Unix time in milliseconds, then 74 random bits from the
    OS's random source, read 4 KiB at a time (``os.urandom`` per id is a system call, which showed in the
    profile of every hot path). Ids made later sort later, so the B-tree indexes over them (an event's id,
    a message's, a decision's, each consumer's record of what it handled) take each new entry at their
    right edge, in pages already in memory, however large they grow — random (version 4) ids put every
    insert on a random leaf page, and once an index outgrew shared_buffers each one read and wrote a page:
    on a store pre-filled with 7 M events, a 10 s send phase's statements read 85,000 pages from outside
    shared_buffers and wrote 83,000 evicted ones themselves; with these ids, 5,400 and 8,300. Not secrets
    (those come from ``secrets``); an id tells when it was made. Used from one event loop per process."""

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0

    def __call__(self) -> str:
        if self._pos >= len(self._buf):
            self._buf, self._pos = os.urandom(4096), 0
        b = bytearray(self._buf[self._pos:self._pos + 16])
        self._pos += 16
        b[0:6] = (time.time_ns() // 1_000_000).to_bytes(6, "big")
        b[6] = (b[6] & 0x0F) | 0x70  # version 7
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 9562 variant
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


new_id = _TimeOrderedIds()
"""A new time-ordered (version 7) UUID, as text."""


def derived_id(base: str, purpose: str) -> str:
    """A UUID that follows from another one and a purpose: the parts of a resource created under a
    caller-chosen id (an organization's first user, key, credit grant) are the same on every retry."""
    return str(uuid.uuid5(uuid.UUID(base), purpose))


def parse_uuid(value: object) -> str | None:
    """The canonical form of a UUID, or None when it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        return None


def chosen_id(value: str, field: str) -> str:
    """:func:`parse_uuid` of an id the caller chose, or a 400 ``VALIDATION_ERROR`` naming ``field``."""
    ident = parse_uuid(value)
    if ident is None:
        raise CommandError("VALIDATION_ERROR", f"{field}: must be a UUID", 400, {"field": field})
    return ident


def chosen_or_new_id(value: str | None, field: str) -> str:
    """The id of what a create makes: the caller's (:func:`chosen_id`; a retry names it again) or a new one."""
    return new_id() if value is None else chosen_id(value, field)


def rfc3339(ts: datetime) -> str:
    """RFC 3339 UTC with milliseconds and Z, the one time format of the public API."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return (f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d}"
            f".{ts.microsecond // 1000:03d}Z")


def api_values(obj: Any) -> Any:
    """A Struct (or what holds Structs) as plain JSON values, every time in the API's format (:func:`rfc3339`):
    for views that show an event's fields as they are."""
    def walk(v: Any) -> Any:
        if isinstance(v, datetime):
            return rfc3339(v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return walk(msgspec.to_builtins(obj, builtin_types=(datetime,)))


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 time with a zone (``Z`` or an offset), or None when it is not one: the one parser of
    times that arrive as text (API fields and query parameters, cursors, carrier input)."""
    try:
        ts = datetime.fromisoformat(text.strip().replace("z", "Z"))
        # in UTC here: a time at the calendar's edge with an offset (0001-01-01T00:00+01:00) has no UTC
        # instant, and would otherwise fail later, as a 500, where it is formatted or stored
        return ts.astimezone(UTC) if ts.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def parse_time(value: str, field: str) -> datetime:
    """:func:`parse_rfc3339`, or a 400 ``VALIDATION_ERROR`` naming ``field``."""
    ts = parse_rfc3339(value)
    if ts is None:
        raise CommandError("VALIDATION_ERROR", f"{field}: must be an RFC 3339 time with a zone, e.g."
                           " 2026-06-11T12:00:00Z", 400, {"field": field})
    return ts


Upcaster = Callable[[dict[str, Any]], None]
"""Brings an event's stored JSON (a dict, changed in place) written in an older shape to the current one."""


def times_upcaster(*paths: str, absent: str | None = None) -> Upcaster:
    """An upcaster for times that used to travel as text: each field (a dotted path into nested structs,
    e.g. ``facts.expires_at``) holding ``""`` (the old "no time") or text that is not an RFC 3339 time (a
    carrier's) becomes null, or the value of the event's field ``absent`` (``occurred_at``) for a time that
    may not be null; any other time is rewritten in the one format a ``datetime`` field decodes."""
    split = [path.split(".") for path in paths]

    def upcast(raw: dict[str, Any]) -> None:
        for *parents, name in split:
            obj: Any = raw
            for part in parents:
                obj = obj.get(part) if isinstance(obj, dict) else None
            if isinstance(obj, dict) and isinstance(obj.get(name), str):
                ts = parse_rfc3339(obj[name]) if obj[name] else None
                obj[name] = rfc3339(ts) if ts is not None else raw.get(absent) if absent else None
    return upcast


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@functools.cache
def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """A fact, past tense. Subject: ``am.<domain>.<aggregate>.<event>.<org_id>``.

    Schemas only grow: a new field must have a default; a breaking change is a new type.
    """

    DOMAIN: ClassVar[str] = ""
    AGGREGATE: ClassVar[str] = ""
    UPCASTERS: ClassVar[tuple[Upcaster, ...]] = ()
    """Applied, in order, to a stored event of this type that does not decode in the current shape
    (``proto.events.decode_event``): the explicit list of this type's older shapes, e.g. a time once
    written as ``""``."""

    org_id: str
    event_id: str = msgspec.field(default_factory=new_id)
    occurred_at: Time = msgspec.field(default_factory=utcnow)
    correlation_id: str | None = None
    causation_id: str | None = None

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    @classmethod
    def subject_token(cls) -> str:
        return snake(cls.__name__)


R = TypeVar("R")


class Command(msgspec.Struct, Generic[R], frozen=True, kw_only=True):
    """Intent, imperative; sent as core NATS request/reply on ``am.cmd.<DOMAIN>.<NAME>`` and answered with
    an ``R``: ``class EvaluateSend(Command[SendDecision], frozen=True, kw_only=True)``, and a caller's
    ``await rpc.call(EvaluateSend(...))`` is a ``SendDecision``. The class is the whole contract: the
    subject, the request's decoder on the server and the reply's decoder on the caller follow from it.

    ``DOMAIN``: the serving domain, by default the module's name under ``proto.commands`` (so
    ``proto/commands/compliance.py`` holds compliance's commands). ``NAME``: the subject's last token, by
    default the class name in snake case; set it where the subject says otherwise (``ListInbound`` is
    ``am.cmd.inbound.list``). A reply type not yet defined where the command is may be named in quotes."""

    DOMAIN: ClassVar[str] = ""
    NAME: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "DOMAIN" not in cls.__dict__ and cls.__module__.startswith("proto.commands."):
            cls.DOMAIN = cls.__module__.rsplit(".", 1)[1]
        if not cls.DOMAIN:
            raise TypeError(f"{cls.__name__}: a command outside proto/commands/<domain>.py sets its DOMAIN")
        if "NAME" not in cls.__dict__:
            cls.NAME = snake(cls.__name__)

    @classmethod
    def reply_type(cls) -> Any:
        """``R``, the type of the answer (a quoted name resolved in the command's module)."""
        for klass in cls.__mro__:
            for base in getattr(klass, "__orig_bases__", ()):
                if getattr(base, "__origin__", None) is Command:
                    (reply,) = get_args(base)
                    if isinstance(reply, str | ForwardRef):
                        arg = reply if isinstance(reply, str) else reply.__forward_arg__
                        reply = eval(arg, vars(sys.modules[klass.__module__]))  # a name from our own source
                    return reply
        raise TypeError(f"{cls.__name__} does not name its reply type: subclass Command[Reply]")


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    status: int = 400
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class CommandError(Exception):
    """A typed failure of a command, carried back to the caller and on to the API envelope."""

    def __init__(self, code: str, message: str, status: int = 400, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, status=self.status, details=self.details)

    @classmethod
    def from_body(cls, body: ErrorBody) -> CommandError:
        return cls(body.code, body.message, body.status, dict(body.details))


def accepted(decided: list[Event] | CommandError) -> list[Event]:
    """What a pure ``decide`` returned: its events, or its refusal raised (the caller's transaction rolls
    back)."""
    if isinstance(decided, CommandError):
        raise decided
    return decided


class NotFound(CommandError):
    def __init__(self, what: str, details: dict[str, Any] | None = None):
        super().__init__("NOT_FOUND", f"{what} not found", 404, details)
