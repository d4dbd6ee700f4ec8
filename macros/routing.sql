{#- Helpers for the routing seeds and models (docs/routing.md). -#}

{#- A `|` list from a seed column: trimmed, spaces removed, lower- or upper-cased; null when blank. -#}
{% macro routing_list(column, case='lower') -%}
    {{ case }}(replace({{ clean_text(column) }}, ' ', ''))
{%- endmacro %}

{#- True when the `|` list `list_expr` contains the value `value_expr` (false when the value is null). -#}
{% macro list_contains(list_expr, value_expr) -%}
    {{ dbt.position(
        dbt.concat(["'|'", value_expr, "'|'"]),
        dbt.concat(["'|'", list_expr, "'|'"])
    ) }} > 0
{%- endmacro %}

{#- Check SQL: every item of the `|` list in `column` must be one of the values `known_sql` selects (one
    column named known_value, already normalised like routing_list with `case`). -#}
{% macro check_list_items(seed_name, key_expr, column, known_sql, case, known_label) -%}
    select
        {{ key_expr }} as row_ref,
        '{{ column }} is ''' || {{ clean_text(column) }} || ''', which has an item that is empty, repeated or not one of {{ known_label }}.' as problem,
        'list known values separated by | (see {{ known_label }}), or leave {{ column }} blank for any.' as fix
    from {{ ref(seed_name) }} as seed_rows
    where {{ clean_text(column) }} is not null
        and {{ dbt.length(routing_list(column, case)) }} - {{ dbt.length("replace(" ~ routing_list(column, case) ~ ", '|', '')") }} + 1
        <> (
            select count(*)
            from ({{ known_sql }}) as known
            where {{ list_contains(routing_list('seed_rows.' ~ column, case), 'known.known_value') }}
        )
{%- endmacro %}

{#- A number 0..modulus-1 from the first 8 hex digits of the md5 of `expr` (the spec's hash bucket). -#}
{% macro hash_bucket(expr, modulus) -%}
    {{ return(adapter.dispatch('hash_bucket', 'lead_scoring')(expr, modulus)) }}
{%- endmacro %}

{% macro default__hash_bucket(expr, modulus) -%}
    (cast({{ dbt.concat(["'0x'", "substring(" ~ dbt.hash(expr) ~ ", 1, 8)"]) }} as bigint) % {{ modulus }})
{%- endmacro %}

{#- Spark casts '0x...' text to null (not a number), so the 8 hex digits go through conv(). -#}
{% macro spark__hash_bucket(expr, modulus) -%}
    (cast(conv(substring({{ dbt.hash(expr) }}, 1, 8), 16, 10) as bigint) % {{ modulus }})
{%- endmacro %}

{% macro postgres__hash_bucket(expr, modulus) -%}
    (cast(cast({{ dbt.concat(["'x00000000'", "substring(" ~ dbt.hash(expr) ~ ", 1, 8)"]) }} as bit(64)) as bigint) % {{ modulus }})
{%- endmacro %}
