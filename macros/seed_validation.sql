{#- Bad configuration fails the build with a message that names the seed file, the row and the fix.

    `check_sql` selects the offending rows with three text columns: `row_ref` (how to find the row, e.g.
    "rule_id = fit_x"), `problem` and `fix`. Seed values are only ever read as data and echoed in the
    message; they are never pasted into SQL. The check runs when the model is executed (seeds are built
    before it in `dbt build`) and is skipped while the seed table does not exist yet (parse, lint). -#}
{% macro assert_no_bad_rows(seed_name, check_sql) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set seed_relation = load_relation(ref(seed_name)) -%}
    {%- if seed_relation is none -%}{{ return('') }}{%- endif -%}
    {{ return(assert_no_bad_rows_in(seed_relation, seed_name, check_sql)) }}
{% endmacro %}

{#- assert_no_bad_rows for a seed relation found without ref() (macros/raw_timestamps.sql). -#}
{% macro assert_no_bad_rows_in(seed_relation, seed_name, check_sql) %}
    {%- if not execute or seed_relation is none -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query(check_sql) -%}
    {%- if result.rows | length > 0 -%}
        {%- set lines = [] -%}
        {%- for row in result.rows[:20] -%}
            {%- do lines.append("  - seeds/" ~ seed_name ~ ".csv, row " ~ row[0] ~ ": " ~ row[1] ~ " Fix: " ~ row[2]) -%}
        {%- endfor -%}
        {%- if result.rows | length > 20 -%}
            {%- do lines.append("  ... and " ~ (result.rows | length - 20) ~ " more") -%}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(
            "Invalid scoring configuration in seeds/" ~ seed_name ~ ".csv (" ~ (result.rows | length)
            ~ " problem(s)):\n" ~ (lines | join("\n"))
        ) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- Check SQL for a column that must hold a number (and may be blank unless required). -#}
{% macro check_numeric(seed_name, key_expr, column, required=false, min_value=none) -%}
    select
        {{ key_expr }} as row_ref,
        '{{ column }} is ''' || coalesce(cast({{ column }} as {{ dbt.type_string() }}), '') || ''', {{ "which is not a number" if not required else "which is blank or not a number" }}{{ (" of at least " ~ min_value) if min_value is not none else "" }}.' as problem,
        'put a{{ " positive" if min_value is not none and min_value > 0 else "" }} number in the {{ column }} column{{ "" if required else " or leave it blank" }}.' as fix
    from {{ ref(seed_name) }}
    where
        {%- if required %}
        {{ to_number(column) }} is null
        {%- else %}
        ({{ clean_text(column) }} is not null and {{ to_number(column) }} is null)
        {%- endif %}
        {%- if min_value is not none %}
        or {{ to_number(column) }} < {{ min_value }}
        {%- endif %}
{%- endmacro %}

{#- Check SQL for a key (one or more columns) that must be unique. -#}
{% macro check_unique(seed_name, key_columns, label=none) -%}
    {%- set label = label or (key_columns | join(" / ")) -%}
    select
        '{{ label }} = ' || {{ key_columns | join(" || ' / ' || ") }} || ' (' || cast(count(*) as {{ dbt.type_string() }}) || ' rows)' as row_ref,
        '{{ label }} is used more than once.' as problem,
        'give every row its own {{ label }}, or delete the duplicate.' as fix
    from {{ ref(seed_name) }}
    group by {{ key_columns | join(', ') }}
    having count(*) > 1
{%- endmacro %}

{#- Check SQL for a column whose value must be one of a fixed list (the project's own vocabulary). -#}
{#- `condition`: an optional SQL condition on the seed row (alias seed_rows) that limits the check. -#}
{% macro check_accepted(seed_name, key_expr, column, accepted, required=true, condition=none, fix=none) -%}
    select
        {{ key_expr }} as row_ref,
        '{{ column }} is ''' || coalesce({{ column }}, '') || ''', which is not one of: {{ accepted | join(", ") }}.' as problem,
        '{{ dbt.escape_single_quotes(fix) if fix else "use one of: " ~ (accepted | join(", ")) ~ "." }}' as fix
    from {{ ref(seed_name) }} as seed_rows
    where
        {%- if required %}
        coalesce(lower({{ clean_text(column) }}), '') not in ('{{ accepted | join("', '") }}')
        {%- else %}
        lower({{ clean_text(column) }}) not in ('{{ accepted | join("', '") }}')
        {%- endif %}
        {%- if condition %}
        and ({{ condition }})
        {%- endif %}
{%- endmacro %}

{#- Condition: the seed row's model (column model_id of the row aliased `alias`) is switched off in
    seeds/scoring_models.csv (is_enabled = false). -#}
{% macro model_is_switched_off(alias='seed_rows') -%}
    exists (
        select 1
        from {{ ref('scoring_models') }} as switched_off_models
        where
            lower({{ clean_text('switched_off_models.is_enabled') }}) = 'false'
            and {{ clean_text('switched_off_models.model_id') }} = {{ clean_text(alias ~ '.model_id') }}
    )
{%- endmacro %}

{#- "model_id = default, rule_id = x": how a message points at a seed row. -#}
{% macro seed_row_ref(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("'" ~ column ~ " = ' || coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '(blank)')") -%}
    {%- endfor -%}
    {{ parts | join(" || ', ' || ") }}
{%- endmacro %}

{#- Check SQL: every model_id of a rule seed must exist in scoring_models (blank allowed when optional). -#}
{% macro check_model_exists(seed_name, key_expr, optional=false) -%}
    select
        {{ key_expr }} as row_ref,
        'model_id is ''' || coalesce(model_id, '') || ''', which is not a model in seeds/scoring_models.csv.' as problem,
        'use a model_id listed in seeds/scoring_models.csv, or add that model there.' as fix
    from {{ ref(seed_name) }} as rule_rows
    where not exists (
        select 1
        from {{ ref('scoring_models') }} as models
        where {{ clean_text('models.model_id') }} = {{ clean_text('rule_rows.model_id') }}
    )
        {%- if optional %}
        and {{ clean_text('model_id') }} is not null
        {%- endif %}
{%- endmacro %}

{#- Check SQL for a column that must not be blank. -#}
{% macro check_not_blank(seed_name, key_expr, column, fix) -%}
    select
        {{ key_expr }} as row_ref,
        '{{ column }} is blank.' as problem,
        '{{ dbt.escape_single_quotes(fix) }}' as fix
    from {{ ref(seed_name) }}
    where {{ clean_text(column) }} is null
{%- endmacro %}

{#- Columns added to a rule seed after its first release: a blank cell in them means what the seed meant before
    they existed, so the hashes that identify a rule set (int_ruleset_version, int_rule_config_versions) include
    them only when set - a rule set that does not use them keeps its version and its rules' hashes. -#}
{% macro optional_seed_columns(seed_name) -%}
    {%- set optional = {
        'scoring_engagement_rules': ['property_name', 'property_min', 'property_max', 'property_unit'],
        'stg_rules__engagement_rules': ['property_name', 'property_min', 'property_max', 'property_unit'],
    } -%}
    {{ return(optional.get(seed_name, [])) }}
{%- endmacro %}

{#- Where-condition: `model_id_expr` names a scoring model that is switched on (scoring_models.is_enabled, blank =
    on). The rule seeds' staging models keep only the rows of such models, so a model switched off scores nothing
    and its rows still pass the same validation (it can be switched on without surprises). It reads the seed itself,
    like the other checks, not stg_rules__scoring_models: each rule staging model stays independent of the others,
    so a bad row in one seed never hides the message of another (stg_rules__scoring_models validates is_enabled). -#}
{% macro is_enabled_model(model_id_expr) -%}
    exists (
        select 1
        from {{ ref('scoring_models') }} as enabled_models
        where
            {{ clean_text('enabled_models.model_id') }} = {{ model_id_expr }}
            and coalesce(lower({{ clean_text('enabled_models.is_enabled') }}), 'true') <> 'false'
    )
{%- endmacro %}
