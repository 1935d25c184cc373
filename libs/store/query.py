"""SQL fragments with named parameters, composed into one statement whose ``$n`` the library numbers.

A fragment is text with ``:name`` placeholders and the values for them. A value that is itself a
fragment is written in place (its own parameters come with it); any other value becomes one bound
parameter. Each fragment's names are its own, so fragments written apart never collide, and nobody
counts ``$22`` by hand::

    bal = sql("UPDATE balances SET available_micros = available_micros - :amount"
              " WHERE org_id = :org AND available_micros >= :amount RETURNING available_micros",
              amount=500, org=org_id)
    text, args = sql("WITH bal AS (:bal) SELECT available_micros FROM bal", bal=bal).compile()
    # text: "WITH bal AS (UPDATE balances SET … - $1 WHERE org_id = $2 AND … >= $1 …) SELECT …"

A placeholder is a colon and a name not preceded by another colon, so casts (``:org::uuid``) read as
they do in PostgreSQL. The text is parsed once per distinct string (cached): a hot path building the
same statement for every batch pays for the parse once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

_PLACEHOLDER = re.compile(r"(?<!:):([A-Za-z_]\w*)")


class _Name(str):
    """A placeholder in parsed text (a plain ``str`` part is literal text)."""


@lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The text's parts (literal text and placeholders, in order) and its placeholders' names."""
    parts: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        parts.append(text[pos:m.start()])
        parts.append(_Name(m.group(1)))
        pos = m.end()
    parts.append(text[pos:])
    kept = tuple(p for p in parts if p)
    return kept, frozenset(p for p in kept if isinstance(p, _Name))


class _Param:
    """One bound value; a fragment's repeated use of one name is one ``$n``."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


class Sql:
    """A fragment of SQL and its parameters. Immutable; compose with placeholders or ``+``."""

    __slots__ = ("_parts", "_values")

    def __init__(self, text: str, /, **params: object) -> None:
        self._parts, names = _parse(text)
        if params.keys() != names:  # (the common case costs one comparison; the message only on a mistake)
            if missing := names - params.keys():
                raise KeyError(f"no value for :{', :'.join(sorted(missing))} in {text[:80]!r}")
            raise ValueError(f"parameters {sorted(params.keys() - names)} are not in {text[:80]!r}")
        self._values: dict[str, Sql | _Param] = {
            k: v if isinstance(v, Sql) else _Param(v) for k, v in params.items()}

    def __add__(self, other: Sql) -> Sql:
        return sql(":a:b", a=self, b=other) if isinstance(other, Sql) else NotImplemented

    def __repr__(self) -> str:
        return f"Sql({self.compile()[0][:120]!r})"

    def compile(self) -> tuple[str, list[Any]]:
        """The statement's text with ``$1 … $n``, and its arguments in that order."""
        out: list[str] = []
        args: list[Any] = []
        self._emit(out, args, {})
        return "".join(out), args

    def _emit(self, out: list[str], args: list[Any], numbers: dict[int, int]) -> None:
        for part in self._parts:
            if not isinstance(part, _Name):
                out.append(part)
                continue
            value = self._values[part]
            if isinstance(value, Sql):
                value._emit(out, args, numbers)
                continue
            n = numbers.get(id(value))
            if n is None:
                args.append(value.value)
                n = numbers[id(value)] = len(args)
            out.append(f"${n}")


def sql(text: str, /, **params: object) -> Sql:
    """A fragment: ``sql("SELECT … WHERE id = :id", id=x)``."""
    return Sql(text, **params)


def join(separator: str, fragments: Iterable[Sql]) -> Sql:
    """The fragments one after another with ``separator`` (plain text) between them."""
    items = list(fragments)
    names = [f"f{i}" for i in range(len(items))]
    return Sql(separator.join(f":{n}" for n in names), **dict(zip(names, items, strict=True)))


def given(text: str, /, **params: object) -> Sql | None:
    """An optional filter: the fragment, or None when every one of its values is None (not asked for)."""
    return None if all(v is None for v in params.values()) else Sql(text, **params)


def where(*conditions: Sql | None) -> Sql:
    """The conditions present (``given``'s None left out) joined by AND. A statement holding only the
    filters asked for is planned for them: PostgreSQL's generic plan of ``$n IS NULL OR col = $n`` can use
    no index on ``col``, whichever filters a request brings."""
    present = [c for c in conditions if c is not None]
    return join(" AND ", present) if present else Sql("TRUE")


def table(alias: str, columns: Mapping[str, str], rows: Iterable[Sequence[object]]) -> Sql:
    """Many rows as one relation for a ``FROM``: ``unnest(:c1::t1[], …) AS alias(c1, …)``, one array
    parameter per column (``columns`` maps each name to its PostgreSQL type, in the rows' order).
    ``WITH ORDINALITY`` adds ``ord``, each row's position from 1."""
    cols = list(columns.items())
    rows = list(rows)
    if rows and len(rows[0]) != len(cols):
        raise ValueError(f"{alias}: every row must have {len(cols)} values")
    # (transposed by zip in C, which checks the rows' lengths: a loop per column, not per value)
    arrays: list[list[object]] = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in cols]
    params = {f"c{i}": array for i, array in enumerate(arrays)}
    spec = ", ".join(f":c{i}::{t}[]" for i, (_, t) in enumerate(cols))
    return Sql(f"unnest({spec}) WITH ORDINALITY AS {alias}({', '.join(n for n, _ in cols)}, ord)", **params)


def notify(channel: str) -> Sql:
    """``pg_notify(channel)`` as a count (0 or 1), for a place in a statement that is evaluated once — a
    column of its final SELECT, a condition no row takes part in. '' sends nothing. Within a transaction
    PostgreSQL delivers one notification per channel however often it is asked; at commit."""
    return Sql("(SELECT count(*) FROM (SELECT pg_notify(:ch, '') WHERE :ch <> '') AS n)", ch=channel)
