{#- Validated project vars: whatever reaches SQL from a var is a plain integer (or a list of them).
    A bad value stops the build at compile time with one line naming the var. -#}

{% macro small_cell_threshold() -%}
  {{- return(_checked_int(var('small_cell_threshold'), 'small_cell_threshold (PULSE_SMALL_CELL_THRESHOLD)', 1)) -}}
{%- endmacro %}

{% macro int_var(name) -%}
  {{- return(_checked_int(var(name), name, -9)) -}}
{%- endmacro %}

{% macro int_list_var(name) -%}
  {%- set values = var(name) -%}
  {%- if values is string or values is not iterable or values | length == 0 -%}
    {{ exceptions.raise_compiler_error("var " ~ name ~ " is " ~ values ~ ": set it to a list of whole numbers") }}
  {%- endif -%}
  {%- set checked = [] -%}
  {%- for v in values -%}{%- do checked.append(_checked_int(v, name, -9) | string) -%}{%- endfor -%}
  {{- return(checked | join(', ')) -}}
{%- endmacro %}

{% macro _checked_int(value, name, minimum) -%}
  {%- set text = value | string | trim -%}
  {%- if value is boolean or not modules.re.fullmatch('-?[0-9]{1,9}', text) or (text | int) < minimum -%}
    {{ exceptions.raise_compiler_error("var " ~ name ~ " is '" ~ value ~ "': set it to a whole number >= " ~ minimum) }}
  {%- endif -%}
  {{- return(text | int) -}}
{%- endmacro %}
