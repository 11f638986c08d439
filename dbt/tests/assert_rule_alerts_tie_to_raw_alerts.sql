-- mart_rule_daily_alerts holds, per day and rule, exactly the raw alerts: their count, and
-- the highest score. Rows returned are (day, rule) pairs that do not tie.
with raw as (
    select trade_date, rule, count(*) as alerts, max(score) as max_score
    from {{ source('surveil', 'alerts') }}
    where true {{ in_scope() }}
    group by trade_date, rule
),

mart as (
    select trade_date, rule, alerts, max_score
    from {{ ref('mart_rule_daily_alerts') }}
    where alerts > 0 {{ in_scope() }}
)

select coalesce(mart.trade_date, raw.trade_date) as trade_date,
    coalesce(mart.rule, raw.rule) as rule, mart.alerts, raw.alerts as raw_alerts
from mart
full join raw on raw.trade_date = mart.trade_date and raw.rule = mart.rule
where mart.alerts is distinct from raw.alerts or mart.max_score is distinct from raw.max_score
