{{ config(
    unique_key='trade_date',
    indexes=[{'columns': ['trade_date', 'rule'], 'unique': true}],
) }}
-- Per rule and trading day: how many alerts, their mean and highest score. Every rule
-- that ran that day has a row, with 0 alerts when it found nothing (so a rule that went
-- quiet shows as 0, not as missing).

with days as ({{ changed_days('detect_run_id') }}),

ran as (
    select distinct trade_date, rule
    from {{ source('surveil', 'detect_runs') }}
    where trade_date in (select trade_date from days)
),

alerts as (
    select trade_date, rule, count(*) as alerts, avg(score) as mean_score, max(score) as max_score,
        count(*) filter (where score >= 80) as high_score_alerts
    from {{ ref('stg_alerts') }}
    where trade_date in (select trade_date from days)
    group by trade_date, rule
)

select
    ran.trade_date,
    ran.rule,
    coalesce(alerts.alerts, 0) as alerts,
    round(alerts.mean_score, 2) as mean_score,
    alerts.max_score,
    coalesce(alerts.high_score_alerts, 0) as high_score_alerts,
    r.detect_run_id
from ran
left join alerts on alerts.trade_date = ran.trade_date and alerts.rule = ran.rule
join {{ ref('stg_day_runs') }} as r on r.trade_date = ran.trade_date
