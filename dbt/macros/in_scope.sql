{#- `and trade_date = D` inside a singular test's where clause on a daily run (the
    trade_date var set), nothing otherwise: a daily build tests its own day. -#}
{% macro in_scope(column='trade_date') -%}
    {%- if var('trade_date') %} and {{ column }} = '{{ var("trade_date") }}'::date{% endif -%}
{%- endmacro %}
