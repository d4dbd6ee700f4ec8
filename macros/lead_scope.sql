{#- The lead scope (docs/incremental.md, section 2c): within a scoring day, the models that score per lead
    (the consumers: int_lead_signal_points, int_lead_rule_points, int_lead_group_points, int_lead_axis_scores,
    int_lead_scores, int_lead_lifecycle, int_scored_leads, int_scored_lead_reasons) recompute only the leads
    whose inputs may have changed since the last build, as listed by int_lead_scoring_scope. The scope keeps
    three state tables beside it: <scope>_state (the lead-day state of macros/incremental.sql and the run's
    scope_id), <scope>_leads (each staged lead's row hash, no personal data) and <scope>_accounts (a copy of
    int_account_engagement). A consumer keeps in <model>_state the scope_id it last consumed. -#}

{#- Layout versions: bump one when the stored columns or the meaning of the scope or a consumer change. -#}
{% macro lead_scoring_scope_layout() -%}{{ return(1) }}{%- endmacro %}
{#- lead rule points 2: the column built_as_of. -#}
{% macro lead_rule_points_layout() -%}{{ return(2) }}{%- endmacro %}
{% macro scored_leads_layout() -%}{{ return(1) }}{%- endmacro %}
{% macro scored_lead_reasons_layout() -%}{{ return(1) }}{%- endmacro %}
{% macro lead_group_points_layout() -%}{{ return(1) }}{%- endmacro %}
{% macro lead_axis_scores_layout() -%}{{ return(1) }}{%- endmacro %}
{% macro lead_scores_layout() -%}{{ return(1) }}{%- endmacro %}
{% macro lead_signal_points_layout() -%}{{ return(1) }}{%- endmacro %}
{% macro lead_lifecycle_layout() -%}{{ return(1) }}{%- endmacro %}

{#- A bookkeeping table of the model being built (its state, the copies it compares with), named
    <model>_<suffix>, in bookkeeping_schema(). -#}
{% macro sibling_relation(suffix) -%}
    {{ return(api.Relation.create(database=this.database, schema=bookkeeping_schema(),
        identifier=this.identifier ~ '_' ~ suffix, type='table')) }}
{%- endmacro %}

{#- The schema of the bookkeeping tables of the model being built: its own schema, but for a mart (a model under
    models/marts/): <schema>_state, so the schema BI tools read holds only marts; no role is granted on it. -#}
{% macro bookkeeping_schema() -%}
    {%- if model is mapping and (model.get('fqn') or [])[1:2] == ['marts'] -%}
        {{ return(this.schema ~ '_state') }}
    {%- endif -%}
    {{ return(this.schema) }}
{%- endmacro %}

{#- A post-hook's statement that replaces the bookkeeping table `relation` by the rows of `sql`: the table dropped
    (and its schema created when it is not the model's own), then created with the adapter's create-table-as. -#}
{% macro replace_bookkeeping_table(relation, sql) -%}
    {%- if execute -%}
        {%- if relation.schema != this.schema -%}{%- do adapter.create_schema(relation) -%}{%- endif -%}
        {%- do adapter.drop_relation(relation) -%}
    {%- endif -%}
    {{ return(get_create_table_as_sql(false, relation, sql)) }}
{%- endmacro %}

{#- A text literal of `value` (quotes doubled), or a null of the text type. -#}
{% macro text_literal(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{#- The column names of `relation`, lower-case, in order ([] when it does not exist or at parse time). -#}
{% macro relation_column_names(relation) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set existing = load_relation(relation) -%}
    {%- if existing is none -%}{{ return([]) }}{%- endif -%}
    {{ return(adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list) }}
{%- endmacro %}

{#- State of the lead scope for this run: scoring_day_state (a full scope on another scoring day, a rule-set
    change, an earlier as_of, rebuilt deliveries, a missing or older state, --full-refresh), then the lead hashes
    and the copy of the accounts it compares with: missing, or with other columns, the scope is full. Adds
    previous_scope_id (the scope_id of the stored state, none for a full scope) and the column lists. -#}
{% macro lead_scope_state(leads_relation, accounts_relation) -%}
    {%- set state = scoring_day_state(
        ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), lead_scoring_scope_layout(),
        incremental_model=false
    ) -%}
    {%- do state.update({'previous_scope_id': none, 'lead_columns': [], 'account_columns': []}) -%}
    {%- if not execute -%}{{ return(state) }}{%- endif -%}
    {%- set lead_columns = relation_column_names(leads_relation) -%}
    {%- set account_columns = relation_column_names(accounts_relation) -%}
    {%- do state.update({'lead_columns': lead_columns, 'account_columns': account_columns}) -%}
    {%- if state.reason is none -%}
        {%- set reason = none -%}
        {%- if 'scope_id' not in relation_column_names(lead_day_state_relation()) -%}
            {%- set reason = 'its state table has no scope_id' -%}
        {%- elif relation_column_names(sibling_relation('leads')) != ['lead_id', 'lead_row_hash'] -%}
            {%- set reason = 'the hashes of the leads it compares with (' ~ sibling_relation('leads').identifier
                ~ ') are missing or of another layout' -%}
        {%- elif relation_column_names(sibling_relation('accounts')) != account_columns -%}
            {%- set reason = 'the copy of the accounts it compares with (' ~ sibling_relation('accounts').identifier
                ~ ') is missing or has other columns than int_account_engagement' -%}
        {%- endif -%}
        {%- if reason is none -%}
            {%- do state.update({'previous_scope_id': scalar_query(
                'select max(scope_id) from ' ~ lead_day_state_relation())}) -%}
        {%- else -%}
            {%- do state.update({'reason': reason}) -%}
            {%- do log_full_rebuild(reason) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(state) }}
{%- endmacro %}

{#- The CTE changed_<name> of the lead scope: the values of `key` in the rows of `current` that are not in
    `stored`, or of `stored` not in `current`, compared on every column (set difference: nulls compare equal).
    Ends with a comma. -#}
{% macro changed_rows_cte(name, current, stored, columns, key) -%}
    {%- set quoted = [] -%}
    {%- for column in columns -%}{%- do quoted.append(adapter.quote(column)) -%}{%- endfor -%}
    {%- set column_list = quoted | join(', ') -%}
    changed_{{ name }} as (

        select {{ key }} from (
            select {{ column_list }} from {{ current }}
            except
            select {{ column_list }} from {{ stored }}
        ) as added
        union
        select {{ key }} from (
            select {{ column_list }} from {{ stored }}
            except
            select {{ column_list }} from {{ current }}
        ) as removed

    ),
{%- endmacro %}

{#- Post-hook of the lead scope, one per copy: the table <scope>_<suffix> of `sql` that the next run compares
    with (dropped, then created again with the adapter's own create-table-as). -#}
{% macro save_relation_copy(suffix, sql) -%}
    {{ replace_bookkeeping_table(sibling_relation(suffix), sql) }}
{%- endmacro %}

{#- A hash of every column of a lead's row, so the scope can tell which leads changed without keeping a copy of
    their personal data; null text at parse time (no columns known). Dispatched: md5 of the row's text
    (concat_fields) by default; DuckDB's own 64-bit hash() of the values, about 15 times faster at 100k leads
    (0.04 s against 0.6 s). A collision would leave one changed lead unscored until the next scoring day; a
    hash that changes with an engine upgrade only rescores every lead once. -#}
{% macro lead_row_hash(columns) -%}
    {%- if columns | length == 0 -%}
        {{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for column in columns -%}{%- do quoted.append(adapter.quote(column)) -%}{%- endfor -%}
    {{ return(adapter.dispatch('lead_row_hash', 'lead_scoring')(quoted)) }}
{%- endmacro %}

{% macro default__lead_row_hash(quoted_columns) -%}
    {{ return(surrogate_key(quoted_columns)) }}
{%- endmacro %}

{% macro duckdb__lead_row_hash(quoted_columns) -%}
    {{ return('hash(' ~ (quoted_columns | join(', ')) ~ ')') }}
{%- endmacro %}

{#- Why a consumer of the lead scope rebuilds in full in this run, or none when it runs incrementally (only the
    leads the scope rescores): it must be a stored table whose state names the scope it last consumed; the scope
    must have been built in this dbt invocation, continue from that same scope, and not be full. No log line: it is
    asked more than once per run (should_full_refresh, macros/full_refresh.sql, and lead_scope_consumer_run). -#}
{% macro lead_scope_consumer_reason(scope_relation, layout) -%}
    {%- set existing = load_relation(this) -%}
    {%- if flags.FULL_REFRESH or existing is none or existing.type != 'table' -%}
        {{ return(not_incremental_reason()) }}
    {%- endif -%}
    {%- set reason = none -%}
    {%- set own_state = lead_day_state_relation() -%}
    {%- set own_columns = relation_column_names(own_state) -%}
    {%- set scope = run_query(
        'select max(scope_id), max(previous_scope_id), max(scope_reason), count(*) from ' ~ scope_relation
    ).rows[0] -%}
    {%- if 'consumed_scope_id' not in own_columns or 'state_layout' not in own_columns -%}
        {%- set reason = 'its state table ' ~ own_state.identifier ~ ' is missing or of an older layout' -%}
    {%- elif scope[0] != invocation_id -%}
        {%- set reason = 'the lead scope ' ~ scope_relation.identifier ~ ' was not built in this run' -%}
    {%- elif scope[1] is none -%}
        {%- set reason = 'the lead scope rescores every lead (' ~ (scope[2] or 'a full scope') ~ ')' -%}
    {%- else -%}
        {%- set stored = run_query('select max(consumed_scope_id), min(state_layout), max(state_layout) from '
            ~ own_state).rows[0] -%}
        {%- if stored[1] != layout or stored[2] != layout -%}
            {%- set reason = 'the stored table has an older layout (version ' ~ stored[1] ~ ', now ' ~ layout ~ ')' -%}
        {%- elif stored[0] != scope[1] -%}
            {%- set reason = 'it was last built from another lead scope than the one this run continues from'
                ~ ' (a run that built the scope without it, or a failed build)' -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(reason) }}
{%- endmacro %}

{#- Whether a consumer of the lead scope runs incrementally, with a log line when it does not (the reason above).
    A consumer names its layout in its config, meta lead_scope_layout, so that should_full_refresh()
    (macros/full_refresh.sql) has dbt build it as a table, not as an incremental run, when it rebuilds in full. -#}
{% macro lead_scope_consumer_run(scope_relation, layout) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}{{ return(false) }}{%- endif -%}
    {%- set reason = lead_scope_consumer_reason(scope_relation, layout) -%}
    {%- do log_full_rebuild(reason) -%}
    {{ return(reason is none) }}
{%- endmacro %}

{#- A where clause keeping the rows of the leads the scope rescores (on an incremental run of a consumer), or
    nothing. `column` is the lead id column of the rows filtered. -#}
{% macro in_lead_scope(incremental_run, column='lead_id') -%}
    {%- if incremental_run -%}
        where {{ column }} in (select scope.lead_id from {{ ref('int_lead_scoring_scope') }} as scope where scope.is_rescored)
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of a consumer: the scope_id it consumed (the scope's, when the scope was built in this dbt
    invocation; otherwise none, so that the next run rebuilds it in full) and its layout. -#}
{% macro save_lead_scope_consumer_state(scope_relation, layout) -%}
    {%- set state_sql -%}
    select
        max(scope_id) as consumed_scope_id,
        {{ layout }} as state_layout
    from {{ scope_relation }}
    where scope_id = '{{ invocation_id }}'
    {%- endset -%}
    {{ replace_bookkeeping_table(lead_day_state_relation(), state_sql) }}
{%- endmacro %}

{#- The body of a consumer's final CTE: the rows of `cte`; on an incremental model run, marked 'row', with a
    'delete' key row per rescored lead (the strategy replaces their stored rows), or one 'reset' row when the
    run rebuilds the stored table in full. `columns`: the columns of `cte`, in order. -#}
{% macro lead_scope_rows(cte, columns, incremental_run) -%}
    {%- if is_incremental() %}
        select
            *,
            'row' as incremental_change
        from {{ cte }}

        union all

        {{ replace_keys_key_rows(
            columns, ['lead_id'], incremental_run,
            '(select scope.lead_id from ' ~ ref('int_lead_scoring_scope') ~ ' as scope where scope.is_rescored) as rescored_leads'
        ) }}
    {%- else %}
        select * from {{ cte }}
    {%- endif %}
{%- endmacro %}
