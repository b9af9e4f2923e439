{#- The grain of a model: no two rows share the values of `columns` (pair it with not_null on
    each column). Failing rows: each repeated key with n_records. -#}
{% test unique_grain(model, columns) %}
  {%- set cols = columns | map('string') | list -%}
  {%- set quoted = [] -%}
  {%- for c in cols -%}{%- do quoted.append(adapter.quote(c)) -%}{%- endfor -%}
select {{ quoted | join(', ') }}, count(*) as n_records
from {{ model }}
group by {{ quoted | join(', ') }}
having count(*) > 1
{% endtest %}
