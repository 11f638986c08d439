-- mart_symbol_closing_volume's volume sums, per day, to the raw executions' quantity, and
-- no symbol's closing and auction volume together exceed its day's volume.
with mart as (
    select trade_date, sum(volume) as volume, bool_or(closing_volume + auction_volume > volume) as overflows
    from {{ ref('mart_symbol_closing_volume') }}
    where true {{ in_scope() }}
    group by trade_date
),

raw as (
    select trade_date, sum(fill_qty) as volume
    from {{ source('surveil', 'executions') }}
    where true {{ in_scope() }}
    group by trade_date
)

select coalesce(mart.trade_date, raw.trade_date) as trade_date, mart.volume,
    raw.volume as raw_volume
from mart
full join raw on raw.trade_date = mart.trade_date
where mart.volume is distinct from coalesce(raw.volume, 0) and raw.volume is not null
   or mart.overflows
   or mart.trade_date is null
