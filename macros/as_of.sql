{#- The scoring clock. `as_of` is an ISO date or timestamp, UTC; without it the run's start time is used, so one
    run scores everything against one instant and a replay with the same value gives the same result. It comes
    from the dbt var as_of when one is passed (--vars, unit tests), else from the environment variable
    LEAD_SCORING_AS_OF, which `lead-scoring build`, the backfill and the Dagster jobs set: dbt parses the whole
    project again whenever --vars change (about 5 s a run), while an environment variable read only when executing
    (never at parse time) leaves the saved parse valid (docs/incremental.md). Either text is parsed and
    re-formatted here, so no user text reaches the SQL. -#}
{% macro as_of_datetime() -%}
    {%- set raw = var('as_of', none) -%}
    {%- set origin = 'The dbt var as_of' -%}
    {%- if (raw is none or (raw | string | trim) == '') and execute -%}
        {%- set raw = env_var('LEAD_SCORING_AS_OF', '') -%}
        {%- set origin = 'The environment variable LEAD_SCORING_AS_OF' -%}
    {%- endif -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {{ return(run_started_at.replace(tzinfo=none, microsecond=0)) }}
    {%- endif -%}
    {%- set text = raw | string | trim | replace('T', ' ') | replace('Z', '') -%}
    {%- set formats = {10: '%Y-%m-%d', 16: '%Y-%m-%d %H:%M', 19: '%Y-%m-%d %H:%M:%S'} -%}
    {%- if modules.re.match('^\\d{4}-\\d{2}-\\d{2}( \\d{2}:\\d{2}(:\\d{2})?)?$', text) -%}
        {{ return(modules.datetime.datetime.strptime(text, formats[text | length])) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        origin ~ " is '" ~ raw ~ "', which is not a date or timestamp. "
        ~ "Fix: give it as '2026-11-01 00:00:00' (UTC; --vars '{as_of: \"2026-11-01 00:00:00\"}' or"
        ~ " LEAD_SCORING_AS_OF='2026-11-01 00:00:00'), or leave both unset to score as of now."
    ) }}
{%- endmacro %}

{% macro as_of_timestamp() -%}
    cast('{{ as_of_datetime().strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_datetime().strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}
