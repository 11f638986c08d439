-- Each loaded day's current load run and latest detect run: the marts rebuild a day only
-- when one of them has changed since the mart last saw it (macros/changed_days.sql).
with loads as (
    select trade_date, max(run_id) as load_run_id
    from {{ source('surveil', 'load_runs') }}
    where action in ('loaded', 'replaced')
    group by trade_date
),

detects as (
    select trade_date, max(run_id) as detect_run_id
    from {{ source('surveil', 'detect_runs') }}
    group by trade_date
)

select
    loads.trade_date,
    loads.load_run_id,
    coalesce(detects.detect_run_id, 0) as detect_run_id
from loads
left join detects on detects.trade_date = loads.trade_date
