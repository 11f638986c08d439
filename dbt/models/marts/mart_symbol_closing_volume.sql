{{ config(
    unique_key='trade_date',
    indexes=[
      {'columns': ['trade_date', 'symbol'], 'unique': true},
      {'columns': ['symbol', 'trade_date']},
    ],
) }}
-- Per symbol and trading day: the share of the day's traded volume in the last
-- `closing_window_minutes` of continuous trading before the session's close (13:00 New
-- York on early-close days, seeds/nyse_early_closes.csv) and in its closing auction print
-- (fills of at-the-close orders, TimeInForce 7, from the close to five minutes after, and
-- any fill stamped at the close itself): marking_the_close's two windows, measured apart.

with days as ({{ changed_days() }}),

closes as (
    select
        d.trade_date,
        coalesce(
            early.close_utc,
            (d.trade_date + time '16:00') at time zone 'America/New_York'
        ) as close_utc
    from days as d
    left join {{ ref('nyse_early_closes') }} as early on early.trade_date = d.trade_date
),

symbols as (
    select distinct trade_date, symbol
    from {{ ref('stg_orders') }}
    where trade_date in (select trade_date from days)
),

volume as (
    select
        e.trade_date,
        e.symbol,
        sum(e.fill_qty) as volume,
        sum(e.fill_qty) filter (
            where e.transact_time >= c.close_utc
                - make_interval(mins => {{ var('closing_window_minutes') }})
              and e.transact_time < c.close_utc
        ) as closing_volume,
        sum(e.fill_qty) filter (
            where e.transact_time >= c.close_utc
              and e.transact_time <= c.close_utc + interval '5 minutes'
              and (o.time_in_force = '7' or e.transact_time = c.close_utc)
        ) as auction_volume,
        count(*) as fills
    from {{ ref('stg_executions') }} as e
    join closes as c on c.trade_date = e.trade_date
    join {{ ref('stg_orders') }} as o
        on o.trade_date = e.trade_date and o.cl_ord_id = e.cl_ord_id
    group by e.trade_date, e.symbol
)

select
    s.trade_date,
    s.symbol,
    c.close_utc,
    coalesce(v.fills, 0) as fills,
    coalesce(v.volume, 0) as volume,
    coalesce(v.closing_volume, 0) as closing_volume,
    round(coalesce(v.closing_volume, 0)::numeric / nullif(v.volume, 0), 4) as closing_share,
    coalesce(v.auction_volume, 0) as auction_volume,
    round(coalesce(v.auction_volume, 0)::numeric / nullif(v.volume, 0), 4) as auction_share,
    r.load_run_id
from symbols as s
join closes as c on c.trade_date = s.trade_date
left join volume as v on v.trade_date = s.trade_date and v.symbol = s.symbol
join {{ ref('stg_day_runs') }} as r on r.trade_date = s.trade_date
