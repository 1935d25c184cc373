"""``sql`` fragments: named parameters, composed, numbered by the library (no I/O)."""

from __future__ import annotations

import pytest

from libs.store.query import given, join, sql, table, where


def test_a_fragments_names_become_numbered_parameters_once_each() -> None:
    text, args = sql("SELECT :a, :b::uuid, :a", a=1, b="x").compile()
    assert text == "SELECT $1, $2::uuid, $1"
    assert args == [1, "x"]


def test_fragments_inside_fragments_keep_their_own_names() -> None:
    inner = sql("UPDATE t SET n = n - :a WHERE id = :id RETURNING n", a=5, id="k")
    outer = sql("WITH u AS (:u) SELECT :a, (SELECT n FROM u)", u=inner, a="outer")
    text, args = outer.compile()
    assert text == "WITH u AS (UPDATE t SET n = n - $1 WHERE id = $2 RETURNING n) SELECT $3, (SELECT n FROM u)"
    assert args == [5, "k", "outer"]


def test_one_fragment_used_twice_binds_its_values_once() -> None:
    f = sql(":v::int", v=7)
    assert sql(":x + :y", x=f, y=f).compile() == ("$1::int + $1::int", [7])


def test_casts_and_literals_are_not_placeholders() -> None:
    assert sql("SELECT '{}'::jsonb, now()::date, '12:30'").compile() == ("SELECT '{}'::jsonb, now()::date, '12:30'", [])


def test_a_missing_or_unused_value_fails_loudly() -> None:
    with pytest.raises(KeyError):
        sql("SELECT :a")
    with pytest.raises(ValueError):
        sql("SELECT 1", a=1)


def test_join_and_plus_compose() -> None:
    text, args = join(", ", [sql(":a", a=1), sql(":a", a=2)]).compile()
    assert (text, args) == ("$1, $2", [1, 2])
    assert (sql("SELECT :a", a=1) + sql(" WHERE :b", b=True)).compile() == ("SELECT $1 WHERE $2", [1, True])


def test_table_is_one_array_parameter_per_column() -> None:
    text, args = table("v", {"id": "uuid", "n": "int"}, [("a", 1), ("b", 2)]).compile()
    assert text == "unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS v(id, n, ord)"
    assert args == [["a", "b"], [1, 2]]


def test_where_holds_only_the_filters_given() -> None:
    # given: one filter asked for, one not, a pair with one value (kept: its other value is NULL, as it was)
    cond = where(sql("org_id = :o", o="org"), given("to_number = :v", v=None), given("from_number = :v", v="+1"),
                 given("(at, id) < (:ts, :id)", ts="t", id=None))
    assert cond.compile() == ("org_id = $1 AND from_number = $2 AND (at, id) < ($3, $4)", ["org", "+1", "t", None])
    assert where(given("a = :v", v=None)).compile() == ("TRUE", [])
