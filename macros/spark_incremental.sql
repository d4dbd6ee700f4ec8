{#- dbt-spark's incremental materialisation knows only its own strategies (append, merge, insert_overwrite,
    microbatch) and rejects others before looking for get_incremental_<strategy>_sql. These two overrides of its
    (non-dispatched) helpers add the project's custom strategy `replace_keys` (macros/incremental.sql) and hand
    every other strategy to dbt-spark unchanged. They are only called by dbt-spark's materialisation. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'replace_keys' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy == 'replace_keys' -%}
        {{ return(get_incremental_replace_keys_sql({
            'target_relation': target,
            'temp_relation': source,
            'unique_key': unique_key,
            'dest_columns': adapter.get_columns_in_relation(target),
            'incremental_predicates': incremental_predicates,
        })) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
{%- endmacro %}
