{#- No analyst-facing model exposes a count of people in 1..small_cell_threshold.

    Checks the columns listed in `person_counts` plus every column <x> that has a companion
    <x>_suppressed (made by the suppress() macro), so a new mart that suppresses a count is
    checked even if its yml forgets to list it. An empty list documents "no person-level counts".
    Failing rows: column_name, value and n_rows per offending value. -#}
{% test no_small_cells(model, person_counts=[]) %}
  {%- set limit = small_cell_threshold() -%}
  {%- set columns = [] -%}
  {%- for c in person_counts -%}{%- do columns.append(c | string) -%}{%- endfor -%}
  {%- if execute -%}
    {%- set names = adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') | list -%}
    {%- for name in names -%}
      {%- if name.endswith('_suppressed') and name[:-11] in names and name[:-11] not in columns -%}
        {%- do columns.append(name[:-11]) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if columns | length == 0 %}
select cast(null as varchar(64)) as column_name, cast(null as bigint) as value, cast(0 as bigint) as n_rows
where 1 = 0
  {%- else -%}
    {%- for c in columns %}
select '{{ c }}' as column_name, cast({{ adapter.quote(c) }} as bigint) as value, count(*) as n_rows
from {{ model }}
where {{ adapter.quote(c) }} between 1 and {{ limit }}
group by {{ adapter.quote(c) }}
      {%- if not loop.last %}
union all
      {%- endif -%}
    {%- endfor -%}
  {%- endif %}
{% endtest %}
