-- With --vars '{trade_date: D}' (a daily run), the build fails unless D is loaded and
-- has orders: a missing or empty day must never pass for a quiet day.
{% if var('trade_date') %}
select '{{ var("trade_date") }}'::date as trade_date, 'not loaded, or loaded with no orders' as problem
where not exists (
    select 1 from {{ ref('stg_day_runs') }} where trade_date = '{{ var("trade_date") }}'::date
) or not exists (
    select 1 from {{ source('surveil', 'orders') }} where trade_date = '{{ var("trade_date") }}'::date
)
{% else %}
select null::date as trade_date where false
{% endif %}
