{#- Fails (or warns, by its severity) for every raw table of marts.quarantine_rates whose quarantine share is above
    its `limit_column` (warn_share or error_share, seeds/quarantine_rate_limits.csv). Each failing row carries the
    table, the share, the top reason codes and the fix in `message`; the messages are also written to the dbt log,
    so the build output names them, not only a count. -#}
{% test quarantine_share_within_limit(model, limit_column) %}

{%- set failing_sql -%}
    select
        source_table,
        raw_rows,
        quarantined_rows,
        quarantine_share,
        {{ limit_column }} as limit_share,
        top_reasons,
        fix,
        message

    from {{ model }}
    where quarantine_share > {{ limit_column }}
{%- endset -%}

{%- if execute and load_relation(model) is not none -%}
    {%- for row in run_query(failing_sql ~ ' order by source_table').rows -%}
        {%- do log("lead_scoring: quarantine share above " ~ limit_column ~ ": " ~ row['message'], info=true) -%}
    {%- endfor -%}
{%- endif %}

{{ failing_sql }}

{% endtest %}
