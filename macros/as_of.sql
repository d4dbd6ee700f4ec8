{#- The scoring clock. `as_of` is a dbt var (an ISO date or timestamp, UTC); without it the run's start time
    is used, so one run scores everything against one instant and a replay with the same var gives the same
    result. The var is parsed and re-formatted here, so no user text reaches the SQL. -#}
{% macro as_of_datetime() -%}
    {%- set raw = var('as_of', none) -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {{ return(run_started_at.replace(tzinfo=none, microsecond=0)) }}
    {%- endif -%}
    {%- set text = raw | string | trim | replace('T', ' ') | replace('Z', '') -%}
    {%- set formats = {10: '%Y-%m-%d', 16: '%Y-%m-%d %H:%M', 19: '%Y-%m-%d %H:%M:%S'} -%}
    {%- if modules.re.match('^\\d{4}-\\d{2}-\\d{2}( \\d{2}:\\d{2}(:\\d{2})?)?$', text) -%}
        {{ return(modules.datetime.datetime.strptime(text, formats[text | length])) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        "The dbt var as_of is '" ~ raw ~ "', which is not a date or timestamp. "
        ~ "Fix: pass --vars '{as_of: \"2026-11-01 00:00:00\"}' (UTC), or leave it unset to score as of now."
    ) }}
{%- endmacro %}

{% macro as_of_timestamp() -%}
    cast('{{ as_of_datetime().strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_datetime().strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}
