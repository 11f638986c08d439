"""PostgreSQL rule SQL → Spark SQL, with sqlglot and a few rules of our own.

A detection rule is written once, in PostgreSQL's dialect, with psycopg's `%(name)s`
parameters and `%%` escapes. For Spark, `to_spark_sql` renders the parameters as SQL literals
(numbers, booleans, dates and timestamps only: they come from validated settings, never from
data), parses the rule with sqlglot's PostgreSQL dialect, rewrites the constructs whose
meaning sqlglot would not carry over, and writes Spark SQL:

| PostgreSQL | Spark | why not sqlglot's own |
|---|---|---|
| `%(name)s` | a literal; a float as `CAST(x AS DOUBLE)` | Spark would read `0.1` as a DECIMAL |
| `%(name)s` as an argument of `format()` | PostgreSQL's text of the value | `format_string` prints 10.0 as "10.0", PostgreSQL as "10" |
| `WITH x AS MATERIALIZED (…)` | `WITH x AS (…)` | a planner hint Spark has no syntax for |
| `percentile_cont(q) WITHIN GROUP (ORDER BY x)` | `percentile(x, q)` (exact) | sqlglot writes `percentile_approx` |
| `array_agg(x ORDER BY x)` | `array_sort(collect_list(x))` | sqlglot drops the ORDER BY |
| `array_agg(DISTINCT x ORDER BY x)` | `array_sort(collect_set(x))` | idem |
| `make_interval(secs => s)` | `make_dt_interval(0, 0, 0, s)` | left as is, which Spark rejects |
| `extract(epoch FROM a - b)` | `CAST(unix_micros(a) - unix_micros(b) AS DECIMAL(20,0)) / 1000000` | left as is; exact, like PostgreSQL's numeric |
| `extract(epoch FROM t)` | `CAST(unix_micros(t) AS DECIMAL(20,0)) / 1000000` | idem |
| `x::numeric` (no precision) | `CAST(x AS DECIMAL(38,18))` | Spark's bare DECIMAL is DECIMAL(10,0) |

Everything else (CTEs, LATERAL, DISTINCT ON, `||`, `format()`, `ARRAY[…]`, casts) is
sqlglot's translation. What neither engine can be made to agree on is kept out of the rules
(the common subset, docs/scaling.md): no division of two integers (PostgreSQL truncates,
Spark does not), no `array || element` (write `array || ARRAY[element]`), no `ARRAY(SELECT …)`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

from surveil.errors import ConfigError

SPARK_EXTRA = "surveil[spark]"
_PSYCOPG_TOKEN = re.compile(r"%\((\w+)\)s|%%|%")


class TranslationError(Exception):
    """A rule uses a construct the translation does not carry over faithfully (a bug in the
    rule or in the translation, not in the data)."""


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError:
        raise ConfigError(
            f"--engine spark needs sqlglot and pyspark: pip install '{SPARK_EXTRA}'"
        ) from None
    return sqlglot


def pg_text(value: Any) -> str:
    """How PostgreSQL's format('%s', value) prints a parameter psycopg sends."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _pg_float_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(sep=" ").replace("+00:00", "+00")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TranslationError(f"cannot render {type(value).__name__} as PostgreSQL text")


def _pg_float_text(value: float) -> str:
    """float8out: the shortest exact digits, in exponent form below 1e-4 or from 1e15 on."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent) - 1  # decimal exponent of the first digit
    minus = "-" if sign else ""
    if point < -4 or point >= 15:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    if point < 0:
        return f"{minus}0.{'0' * (-point - 1)}{text}"
    whole, fraction = text[: point + 1].ljust(point + 1, "0"), text[point + 1 :]
    return f"{minus}{whole}{'.' + fraction if fraction else ''}"


def literal(value: Any) -> Any:
    """A sqlglot literal for a parameter value; only numbers, booleans, dates and timestamps."""
    from sqlglot import exp

    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"rule parameter {value!r}: must be a finite number")
        return exp.cast(exp.Literal.number(repr(value)), exp.DataType.build("DOUBLE"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TranslationError(f"timestamp parameter {value} has no time zone")
        utc = value.astimezone(dt.UTC).replace(tzinfo=None)
        return exp.cast(exp.Literal.string(utc.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    raise TranslationError(
        f"parameter of type {type(value).__name__}: only numbers, booleans, dates and "
        "timestamps are rendered into Spark SQL"
    )


def _unescape(rule_sql: str) -> str:
    """Undo psycopg's escapes, keeping `%(name)s` for sqlglot (which parses them as
    placeholders)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "%%":
            return "%"
        if token == "%":
            raise TranslationError(f"a lone % at offset {match.start()} (psycopg needs %%)")
        return token

    return _PSYCOPG_TOKEN.sub(one, rule_sql)


def _epoch_seconds(node: Any) -> Any:
    """Exact seconds since the epoch (or between two timestamps) as a Spark DECIMAL."""
    from sqlglot import exp

    def micros(e: Any) -> Any:
        return exp.Anonymous(this="UNIX_MICROS", expressions=[e.copy()])

    if isinstance(node, exp.Sub):
        if isinstance(node.expression, exp.Interval | exp.MakeInterval):
            raise TranslationError("extract(epoch FROM timestamp - interval) is not supported")
        inner: Any = exp.Sub(this=micros(node.this), expression=micros(node.expression))
    else:
        inner = micros(node)
    cast = exp.cast(inner, exp.DataType.build("DECIMAL(20, 0)"))
    return exp.Paren(this=exp.Div(this=cast, expression=exp.Literal.number(1000000)))


def _array_agg(node: Any) -> Any:
    from sqlglot import exp

    inner = node.this
    if not isinstance(inner, exp.Order):
        raise TranslationError(
            f"{node.sql('postgres')}: array_agg needs ORDER BY its own argument (Spark's "
            "collect_list has no defined order)"
        )
    value, distinct = inner.this, False
    if isinstance(value, exp.Distinct):
        (value,) = value.expressions
        distinct = True
    keys = inner.expressions
    if len(keys) != 1 or keys[0].this != value or keys[0].args.get("desc"):
        raise TranslationError(
            f"{node.sql('postgres')}: only array_agg([DISTINCT] x ORDER BY x) translates"
        )
    collect = "COLLECT_SET" if distinct else "COLLECT_LIST"
    return exp.Anonymous(
        this="ARRAY_SORT",
        expressions=[exp.Anonymous(this=collect, expressions=[value.copy()])],
    )


def _make_interval(node: Any) -> Any:
    from sqlglot import exp

    parts = {"day": 0, "hour": 1, "minute": 2, "second": 3}
    args: list[Any] = [exp.Literal.number(0)] * 4
    for key, value in node.args.items():
        if value is None:
            continue
        if key not in parts:
            raise TranslationError(f"make_interval({key} => …) has no Spark day-time form")
        args[parts[key]] = value.expression.copy() if isinstance(value, exp.Kwarg) else value
    return exp.Anonymous(this="MAKE_DT_INTERVAL", expressions=args)


def to_spark_sql(rule_sql: str, values: dict[str, Any], *, pretty: bool = False) -> str:
    """The rule as Spark SQL, its parameters rendered as literals."""
    sqlglot = _sqlglot()
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(_unescape(rule_sql), read="postgres")
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"rule SQL does not parse as PostgreSQL: {exc}") from None
    for string in tree.find_all(exp.Literal):
        if string.is_string and "%(" in string.this:
            raise TranslationError(f"parameter inside a string literal: {string.sql()}")

    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)
            return node
        if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
            (order,) = node.expression.expressions
            if order.args.get("desc"):
                raise TranslationError("percentile_cont … ORDER BY x DESC is not supported")
            return exp.Anonymous(
                this="PERCENTILE", expressions=[order.this.copy(), node.this.this.copy()]
            )
        if isinstance(node, exp.ArrayAgg):
            return _array_agg(node)
        if isinstance(node, exp.MakeInterval):
            return _make_interval(node)
        if isinstance(node, exp.Extract) and node.this.name.upper() == "EPOCH":
            return _epoch_seconds(node.expression)
        if (
            isinstance(node, exp.DataType)
            and node.this == exp.DataType.Type.DECIMAL
            and not node.expressions
        ):
            return exp.DataType.build("DECIMAL(38, 18)")
        return node

    def bind(node: Any) -> Any:
        if not isinstance(node, exp.Placeholder):
            return node
        name = node.name
        if name not in values:
            raise TranslationError(f"parameter %({name})s has no value")
        if isinstance(node.parent, exp.Format) and node.arg_key == "expressions":
            return exp.Literal.string(pg_text(values[name]))
        return literal(values[name])

    # Constructs first, then parameters: a replaced node's children are not visited again.
    tree = tree.transform(rewrite, copy=False).transform(bind, copy=False)
    sql: str = tree.sql(dialect="spark", pretty=pretty)
    return sql
