{#- Rows of `model` whose combination of `columns` is not unique: a mart's grain. -#}
{% test unique_together(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
