{#- dbt's should_full_refresh() - the --full-refresh flag, or the model's full_refresh config - and also true for a
    consumer of the lead scope (config meta lead_scope_layout, macros/lead_scope.sql) that rebuilds in full in this
    run, as on every new scoring day. dbt then builds the consumer as a table and swaps it in, as with
    --full-refresh, instead of running it incrementally with a 'reset' row: writing every row to a temporary table,
    deleting every stored row and inserting them all again. is_incremental() asks this macro too, so the model's
    SQL is then its full build's. dbt's materializations and is_incremental() call it by name, so this project's
    macro is the one they find; every other node gets dbt's answer. -#}
{% macro should_full_refresh() -%}
    {%- set flagged = dbt.should_full_refresh() -%}
    {%- if flagged or not execute or model is not mapping or model.get('resource_type') != 'model' -%}
        {{ return(flagged) }}
    {%- endif -%}
    {%- set layout = (model.get('config', {}).get('meta') or {}).get('lead_scope_layout') -%}
    {%- if layout is none -%}{{ return(flagged) }}{%- endif -%}
    {{ return(lead_scope_consumer_reason(ref('int_lead_scoring_scope'), layout) is not none) }}
{%- endmacro %}
