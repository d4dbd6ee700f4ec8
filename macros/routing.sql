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

{#- The last spell number the SLA replay (lead_assignment_spells) unrolls: the largest max_reassignments of the
    scoring models (int_routing_sla_model_settings, validated 0..10), so the replay has no step the settings can
    never reach. With the default of 3 that is 4 steps instead of 11, and on Spark, which repeats each step's
    predecessors in the plan of the final union, 10 step copies instead of 66. `ceiling` (10, the most the settings
    allow) at parse time and when the settings table is missing. A unit test's fixtures are not tables to read: it
    states the largest max_reassignments of its fixture in the var sla_replay_unit_test_last_spell (default
    `ceiling`); a value below its fixture's cap drops spells its expectations have, so the test fails. -#}
{% macro sla_replay_last_spell_number(settings_relation, ceiling=10) -%}
    {%- if not execute -%}{{ return(ceiling) }}{%- endif -%}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}
        {{ return([var('sla_replay_unit_test_last_spell', ceiling) | int, ceiling] | min) }}
    {%- endif -%}
    {%- if load_relation(settings_relation) is none -%}{{ return(ceiling) }}{%- endif -%}
    {%- set found = scalar_query(
        'select coalesce(max(coalesce(max_reassignments, 0)), 0) from ' ~ settings_relation
    ) -%}
    {{ return([[found | int, 0] | max, ceiling] | min) }}
{%- endmacro %}
