{#- Rows whose value lies outside [min_value, max_value] (either bound optional); NULLs pass,
    not_null is its own test. dbt's built-in tests have no range test, and packages from
    hub.getdbt.com (dbt_utils) cannot be fetched on every machine. -#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }} {% endif %}
  )
{% endtest %}
