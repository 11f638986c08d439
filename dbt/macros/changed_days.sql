{#- The days an incremental mart (re)builds: every day whose current load (or, with
    `run_column='detect_run_id'`, latest detect) differs from the one the mart was built
    from, so a day reloaded with `surveil load --force` or detected again is rebuilt and
    nothing else is; plus the `trade_date` var's day, when a daily run names one. A full
    build (first run, --full-refresh) takes every day. -#}
{% macro changed_days(run_column='load_run_id') %}
    {%- if is_incremental() -%}
        select d.trade_date
        from {{ ref('stg_day_runs') }} as d
        left join (select distinct trade_date, {{ run_column }} from {{ this }}) as built
            on built.trade_date = d.trade_date
        where built.{{ run_column }} is distinct from d.{{ run_column }}
        {%- if var('trade_date') %}
        union
        select '{{ var("trade_date") }}'::date
        {%- endif %}
    {%- else -%}
        select trade_date from {{ ref('stg_day_runs') }}
    {%- endif -%}
{% endmacro %}
