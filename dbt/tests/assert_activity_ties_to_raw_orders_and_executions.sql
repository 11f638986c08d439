-- mart_account_daily_activity sums, per day, to what the raw tables hold: every order,
-- cancel, fill and the notional. Rows returned are days that do not tie.
with mart as (
    select trade_date, sum(orders) as orders, sum(cancels) as cancels, sum(fills) as fills,
        sum(notional) as notional
    from {{ ref('mart_account_daily_activity') }}
    where true {{ in_scope() }}
    group by trade_date
),

raw_orders as (
    select trade_date, count(*) as orders,
        count(*) filter (where ord_status in ('4', '6', 'C')) as cancels
    from {{ source('surveil', 'orders') }}
    where true {{ in_scope() }}
    group by trade_date
),

raw_fills as (
    select trade_date, count(*) as fills, sum(fill_qty * fill_price) as notional
    from {{ source('surveil', 'executions') }}
    where true {{ in_scope() }}
    group by trade_date
)

select coalesce(mart.trade_date, raw_orders.trade_date) as trade_date,
    mart.orders, raw_orders.orders as raw_orders, mart.fills, raw_fills.fills as raw_fills,
    mart.notional, raw_fills.notional as raw_notional
from mart
full join raw_orders on raw_orders.trade_date = mart.trade_date
left join raw_fills on raw_fills.trade_date = coalesce(mart.trade_date, raw_orders.trade_date)
where mart.orders is distinct from raw_orders.orders
   or mart.cancels is distinct from raw_orders.cancels
   or mart.fills is distinct from coalesce(raw_fills.fills, 0)
   or mart.notional is distinct from coalesce(raw_fills.notional, 0)
