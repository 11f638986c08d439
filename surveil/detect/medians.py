"""The day's median order quantity per symbol or per account, as the CTEs a rule starts with.

`percentile_cont(0.5) WITHIN GROUP (ORDER BY quantity) … GROUP BY key` needs the day's
orders in key order. Through the partitioned `orders` table PostgreSQL reads them in that
order through an index, one random heap access per order (1.1 s at 1M orders, 7.6 s at 3M),
and under a parallel plan each worker does it again. Quantities take few distinct values, so
the day is counted per (key, quantity) instead, a hash aggregate that runs in parallel, and
the median is read off the running counts of those few rows. It is the value
percentile_cont gives: for N quantities in order, the mean of the ones at (0-based)
positions floor((N-1)/2) and floor(N/2); the one at position p is the smallest quantity
whose running count exceeds p, and for whole numbers `running > floor((N-1)/2)` is
`2 * running >= N`, and `running > floor(N/2)` is `2 * running > N`.
"""

from __future__ import annotations

_TYPICAL = """
{lead} {name}_sizes AS (
    SELECT {key}, quantity, count(*) AS orders
    FROM orders WHERE trade_date = %(trade_date)s{only} GROUP BY {key}, quantity
), {name}_ranked AS (
    SELECT {key}, quantity,
           sum(orders) OVER (PARTITION BY {key} ORDER BY quantity) AS running,
           sum(orders) OVER (PARTITION BY {key}) AS total
    FROM {name}_sizes
), {name} AS{materialized} (
    SELECT {key},
           (min(quantity) FILTER (WHERE 2 * running >= total)
            + min(quantity) FILTER (WHERE 2 * running > total))::float8 / 2 AS {column}
    FROM {name}_ranked GROUP BY {key}
)"""

# Which orders a median may be taken over (code constants, never input).
ONLY = {"all": " AND ord_status <> '5'", "filled": " AND ord_status = '2'"}


def typical_quantity(
    key: str,
    *,
    materialized: bool = False,
    name: str = "typical",
    column: str = "median_qty",
    only: str = "all",
    first: bool = True,
) -> str:
    """`WITH …, typical AS (…)`: `typical` has one row per `key` (a column of orders named
    by the rule, never by input) with `median_qty`, that day's median order quantity.
    A rule continues the WITH list after it: `typical_quantity("symbol") + ", next AS (…)"`.
    `name` and `column` rename the CTE and its value, `only="filled"` takes the median over
    orders filled in full, and `first=False` continues a WITH list already begun."""
    return _TYPICAL.format(
        lead="WITH" if first else ",",
        name=name,
        key=key,
        only=ONLY[only],
        column=column,
        materialized=" MATERIALIZED" if materialized else "",
    )
