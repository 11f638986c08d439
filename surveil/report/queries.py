"""The report's SQL: every figure on the page comes from one of these, over the warehouse.

All run inside one READ ONLY, REPEATABLE READ transaction, so the page is one consistent
snapshot of the day even while a detection of another day commits meanwhile.
"""

from __future__ import annotations

SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

LOAD_RUN = """
SELECT run_id, action, manifest_sha256, lake, rows_read, started_at, finished_at
FROM load_runs
WHERE trade_date = %s AND action IN ('loaded', 'replaced')
ORDER BY run_id DESC LIMIT 1
"""

LATEST_VALIDATION = """
SELECT v.validation_id, v.load_run_id, v.passed, v.checked_at,
       count(r.check_name) AS checks,
       coalesce(array_agg(r.check_name ORDER BY r.check_name)
                FILTER (WHERE NOT r.passed), '{}') AS failed
FROM (SELECT * FROM validation_runs WHERE trade_date = %s
      ORDER BY validation_id DESC LIMIT 1) v
LEFT JOIN validation_results r USING (validation_id)
GROUP BY v.validation_id, v.load_run_id, v.passed, v.checked_at
"""

LATEST_DETECT_RUNS = """
SELECT DISTINCT ON (rule) rule, rule_version, params, alerts, load_run_id, ran_at
FROM detect_runs WHERE trade_date = %s ORDER BY rule, run_id DESC
"""

ORDER_FIGURES = """
SELECT count(*),
       count(*) FILTER (WHERE cum_qty > 0),
       count(*) FILTER (WHERE cancel_time IS NOT NULL)
FROM orders WHERE trade_date = %s
"""

EXECUTION_FIGURES = """
SELECT count(*), coalesce(sum(fill_qty), 0), coalesce(sum(fill_qty * fill_price), 0)
FROM executions WHERE trade_date = %s
"""

# Alerts per rule per day over `days`, for the days whose rules ran on the load the
# warehouse holds (or that hold alerts, e.g. loaded from Spark): a day no rule ran on is
# missing, not zero.
ALERTS_BY_DAY = """
WITH current_load AS (
    SELECT DISTINCT ON (trade_date) trade_date, run_id FROM load_runs
    WHERE trade_date = ANY(%(days)s) AND action IN ('loaded', 'replaced')
    ORDER BY trade_date, run_id DESC
), ran AS (
    SELECT DISTINCT d.trade_date, d.rule FROM detect_runs d
    JOIN current_load c ON c.trade_date = d.trade_date AND c.run_id = d.load_run_id
), fired AS (
    SELECT trade_date, rule, count(*) AS alerts FROM alerts
    WHERE trade_date = ANY(%(days)s) GROUP BY trade_date, rule
)
SELECT coalesce(r.trade_date, f.trade_date), coalesce(r.rule, f.rule), coalesce(f.alerts, 0)
FROM ran r FULL JOIN fired f ON f.trade_date = r.trade_date AND f.rule = r.rule
"""

ALERT_COUNT = "SELECT count(*) FROM alerts WHERE trade_date = %s"

TOP_ACCOUNTS = """
SELECT account_id, count(*) AS alerts, max(score),
       array_agg(DISTINCT rule ORDER BY rule), array_agg(DISTINCT symbol ORDER BY symbol)
FROM alerts, unnest(account_ids) AS account_id
WHERE trade_date = %(d)s
GROUP BY account_id ORDER BY alerts DESC, max(score) DESC, account_id LIMIT %(limit)s
"""

TOP_SYMBOLS = """
SELECT symbol, count(DISTINCT alert_id) AS alerts, max(score),
       array_agg(DISTINCT rule ORDER BY rule), count(DISTINCT account_id)
FROM alerts, unnest(account_ids) AS account_id
WHERE trade_date = %(d)s AND symbol <> '*'  -- an alert over every symbol is none of them
GROUP BY symbol ORDER BY alerts DESC, max(score) DESC, symbol LIMIT %(limit)s
"""

# The day's alerts by score, from `offset`: the top ones get a section, the next a row.
ALERTS_BY_SCORE = """
SELECT alert_id, rule, rule_version, symbol, account_ids, score, explanation,
       cardinality(cl_ord_ids), cardinality(exec_ids)
FROM alerts WHERE trade_date = %(d)s
ORDER BY score DESC, alert_id LIMIT %(limit)s OFFSET %(offset)s
"""

IS_SYNTHETIC = "SELECT EXISTS (SELECT 1 FROM planted_scenarios WHERE trade_date = %s)"

# How much the accounts had resting in the book, by side, over the window: every limit
# order that can rest (not IOC or FOK, not at the close, which waits for the auction rather
# than resting in the book, not rejected) adds its quantity at entry; each fill
# takes its quantity off, and the cancel (or the close, for what was left) the rest. The
# level at the window's start comes first. A side with more than %(points)s changes in the
# window is drawn as the highest level of each slice of %(slice_s)s seconds, at the slice's
# first change; `changes` says how many there were.
RESTING = """
WITH own AS (
    SELECT cl_ord_id, quantity, cum_qty, cancel_time,
           transact_time, CASE WHEN side = '1' THEN 'buy' ELSE 'sell' END AS book
    FROM orders
    WHERE trade_date = %(d)s AND account_id = ANY(%(accounts)s) AND symbol = %(symbol)s
      AND order_type IN ('2', '4') AND time_in_force NOT IN ('3', '4', '7') AND ord_status <> '8'
), changes AS (
    SELECT transact_time AS at, book, quantity AS delta FROM own
    UNION ALL
    SELECT e.transact_time, o.book, -e.fill_qty
    FROM executions e JOIN own o ON o.cl_ord_id = e.cl_ord_id
    WHERE e.trade_date = %(d)s AND e.account_id = ANY(%(accounts)s) AND e.symbol = %(symbol)s
    UNION ALL
    SELECT coalesce(cancel_time, greatest(transact_time, %(close)s)), book, cum_qty - quantity
    FROM own WHERE cum_qty < quantity
), levels AS (
    SELECT at, book, sum(sum(delta)) OVER (PARTITION BY book ORDER BY at) AS resting
    FROM changes GROUP BY at, book
), in_window AS (
    SELECT at, book, resting, count(*) OVER (PARTITION BY book) AS changes
    FROM levels WHERE at BETWEEN %(start)s AND %(end)s
), drawn AS (
    SELECT min(at) AS at, book, max(resting) AS resting, max(changes) AS changes
    FROM in_window
    GROUP BY book, CASE WHEN changes <= %(points)s THEN extract(epoch FROM at)
                        ELSE floor(extract(epoch FROM at - %(start)s) / %(slice_s)s) END
)
SELECT * FROM (
    (SELECT DISTINCT ON (book) %(start)s::timestamptz AS at, book, resting, 0::bigint
     FROM levels WHERE at < %(start)s ORDER BY book, at DESC)
    UNION ALL
    (SELECT at, book, resting, changes FROM drawn)
) window_levels
ORDER BY at, book
"""

# For an alert over several symbols (`*`): the accounts' messages per five minutes.
MESSAGES_PER_BUCKET = """
WITH own AS (
    SELECT transact_time, cancel_time, ord_status FROM orders
    WHERE trade_date = %(d)s AND account_id = ANY(%(accounts)s)
), events AS (
    SELECT transact_time AS at, 'placed' AS kind FROM own
    UNION ALL  -- a replaced order (5) ends as its successor is placed: one message
    SELECT cancel_time, 'cancelled' FROM own WHERE cancel_time IS NOT NULL AND ord_status <> '5'
    UNION ALL
    SELECT transact_time, 'filled' FROM executions
    WHERE trade_date = %(d)s AND account_id = ANY(%(accounts)s)
)
SELECT (floor(extract(epoch FROM at) / %(bucket_s)s) * %(bucket_s)s)::bigint AS bucket,
       kind, count(*)
FROM events GROUP BY bucket, kind ORDER BY bucket, kind
"""

REVIEW_TABLE = "SELECT to_regclass(%s) IS NOT NULL"
