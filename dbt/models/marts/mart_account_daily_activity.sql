{{ config(
    unique_key='trade_date',
    indexes=[
      {'columns': ['trade_date', 'account_id'], 'unique': true},
      {'columns': ['account_id', 'trade_date']},
    ],
) }}
-- Per account and trading day: orders, cancels, fills, notional and the order-to-trade
-- ratio as excessive_otr counts it (orders / max(executions, 1), RTS 9 by number).

with days as ({{ changed_days() }}),

orders as (
    select
        o.trade_date,
        o.account_id,
        count(*) as orders,
        count(*) filter (where o.is_cancelled) as cancels,
        count(*) filter (where o.is_filled) as filled_orders,
        sum(o.quantity) as order_qty
    from {{ ref('stg_orders') }} as o
    where o.trade_date in (select trade_date from days)
    group by o.trade_date, o.account_id
),

fills as (
    select
        e.trade_date,
        e.account_id,
        count(*) as fills,
        sum(e.fill_qty) as filled_qty,
        sum(e.notional) as notional
    from {{ ref('stg_executions') }} as e
    where e.trade_date in (select trade_date from days)
    group by e.trade_date, e.account_id
)

select
    o.trade_date,
    o.account_id,
    a.firm_id,
    a.account_type,
    o.orders,
    o.cancels,
    o.filled_orders,
    coalesce(f.fills, 0) as fills,
    o.order_qty,
    coalesce(f.filled_qty, 0) as filled_qty,
    coalesce(f.notional, 0) as notional,
    round(o.orders::numeric / greatest(coalesce(f.fills, 0), 1), 4) as order_to_trade_ratio,
    round(o.cancels::numeric / o.orders, 4) as cancel_rate,
    r.load_run_id
from orders as o
left join fills as f on f.trade_date = o.trade_date and f.account_id = o.account_id
join {{ ref('stg_accounts') }} as a on a.trade_date = o.trade_date and a.account_id = o.account_id
join {{ ref('stg_day_runs') }} as r on r.trade_date = o.trade_date
