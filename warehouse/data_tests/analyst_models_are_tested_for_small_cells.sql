{#- Every analyst-facing model (models/marts/, meta.analyst_facing) carries a no_small_cells test,
    so a new mart cannot reach analysts without the small-cell check. Failing rows: the models
    that lack it. -#}
{%- set missing = [] -%}
{%- if execute -%}
  {%- set tested = [] -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.test_metadata
        and node.test_metadata.name == 'no_small_cells' -%}
    {%- do tested.extend(node.depends_on.nodes) -%}
  {%- endfor -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model'
        and node.config.meta.get('analyst_facing') and node.unique_id not in tested -%}
    {%- do missing.append(node.name) -%}
  {%- endfor -%}
{%- endif %}
{%- if missing %}
  {%- for name in missing %}
select '{{ name }}' as model_name{% if not loop.last %} union all{% endif %}
  {%- endfor %}
{%- else %}
select cast(null as varchar(64)) as model_name where 1 = 0
{%- endif %}
