{#- Small-cell suppression for analyst-facing marts (docs/warehouse.md, "Small-cell suppression").

    {{ suppress('n_admissions') }} renders two select-list items:
      n_admissions            NULL when the count is 1..small_cell_threshold, else the count (0 stays 0)
      n_admissions_suppressed TRUE when the count was suppressed
    Every mart column made this way is checked by the no_small_cells test. -#}

{% macro suppress(column) -%}
  {%- if not modules.re.fullmatch('[a-z][a-z0-9_]{0,50}', column) -%}
    {{ exceptions.raise_compiler_error("suppress('" ~ column ~ "'): not a column name; use lower-case letters, digits and _") }}
  {%- endif -%}
  {%- set limit = small_cell_threshold() -%}
  {%- set col = adapter.quote(column) -%}
  CASE WHEN {{ col }} BETWEEN 1 AND {{ limit }} THEN NULL ELSE {{ col }} END AS {{ col }},
    COALESCE({{ col }} BETWEEN 1 AND {{ limit }}, FALSE) AS {{ adapter.quote(column ~ '_suppressed') }}
{%- endmacro %}
