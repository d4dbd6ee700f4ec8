{#- Incremental event path (docs/incremental.md): the custom strategy `replace_keys`, the look-back var, the
    state of the stored deliveries and buckets, and the decisions to rebuild in full (each with a log line). -#}

{#- Layout versions: bump one when a model's stored columns change meaning, so the next run rebuilds it. -#}
{#- event deliveries 3: no stored delivery_content_hash (the content is hashed when ranking, over cleaned values)
    and no stored event_delivery_key (stg_crm__event_deliveries builds it). 4: has_bad_timestamp (occurred_at landed
    as text that parses as no accepted timestamp, macros/raw_timestamps.sql). -#}
{% macro event_deliveries_layout() -%}{{ return(4) }}{%- endmacro %}
{#- engagement buckets 2: the column built_as_of (the as_of of the run that wrote the row). -#}
{% macro engagement_buckets_layout() -%}{{ return(2) }}{%- endmacro %}
{% macro engagement_burst_minutes_layout() -%}{{ return(1) }}{%- endmacro %}
{#- engagement rule points 1: incremental on the lead within a scoring day. 2: the column built_as_of. -#}
{% macro engagement_rule_points_layout() -%}{{ return(2) }}{%- endmacro %}
{#- quarantined events 1: incremental on the deliveries whose status may have changed since the stored build. -#}
{% macro quarantined_events_layout() -%}{{ return(1) }}{%- endmacro %}

{#- The look-back window in days (dbt var event_lookback_days, default 3): deliveries loaded up to this many days
    before the latest one stored are read again on every incremental run, so rows that land late or out of
    order are still ranked with their event. A whole number of days, 0 or more. -#}
{% macro event_lookback_days() -%}
    {%- set raw = var('event_lookback_days', 3) -%}
    {%- if raw is none or not modules.re.match('^[0-9]+$', raw | string | trim) -%}
        {{ exceptions.raise_compiler_error(
            "The dbt var event_lookback_days is '" ~ raw ~ "', which is not a whole number of days. "
            ~ "Fix: pass --vars '{event_lookback_days: 3}' (0 or more), or leave it unset for 3."
        ) }}
    {%- endif -%}
    {{ return(raw | string | trim | int) }}
{%- endmacro %}

{#- Custom incremental strategy `replace_keys` (dbt looks up get_incremental_<strategy>_sql). The model's
    incremental output carries a column incremental_change: 'row' (a row to store), 'delete' (a key whose stored
    rows are replaced even if no new row has it) or 'reset' (drop every stored row: an automatic full rebuild).
    Stored rows of every key in the output are deleted, then the 'row' rows inserted; the marker column itself
    is not stored (dest_columns are the target's). Keys match null-safely. -#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_replace_keys_sql', 'lead_scoring')(arg_dict)) }}
{%- endmacro %}

{% macro default__get_incremental_replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = arg_dict['unique_key'] -%}
    {%- if keys is string -%}{%- set keys = [keys] -%}{%- endif -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }}
    where exists (select 1 from {{ source }} where incremental_change = 'reset');

    delete from {{ target }} as stored
    using (
        select distinct {{ keys | join(', ') }}
        from {{ source }}
        where incremental_change <> 'reset'
    ) as touched
    where
    {%- for key in keys %}
        stored.{{ key }} is not distinct from touched.{{ key }}{{ ' and' if not loop.last }}
    {%- endfor %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
    where incremental_change = 'row'
{%- endmacro %}

{#- Spark (Parquet tables: no DELETE, and a table cannot be overwritten by a query that reads it): the model's
    output is stored once in the work table <model>__changes__dbt_tmp, the rows to keep (stored rows of keys not
    in it, none after a 'reset') plus its 'row' rows go to <model>__replace__dbt_tmp, and the target is
    overwritten from that. The first steps run here, in order; the statement returned (the strategy's main
    statement) drops the last work table. A run killed between them leaves work tables whose names end in
    __dbt_tmp, which the next run's on-run-start hook drops (macros/stale_relations.sql); the target is either
    the old or the new table. -#}
{% macro spark__get_incremental_replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = arg_dict['unique_key'] -%}
    {%- if keys is string -%}{%- set keys = [keys] -%}{%- endif -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- set changes = target.incorporate(path={'identifier': target.identifier ~ '__changes__dbt_tmp'}) -%}
    {%- set replacement = target.incorporate(path={'identifier': target.identifier ~ '__replace__dbt_tmp'}) -%}
    {%- set key_match = [] -%}
    {%- for key in keys -%}
        {%- do key_match.append('stored.' ~ key ~ ' <=> touched.' ~ key) -%}
    {%- endfor -%}
    {%- if execute -%}
        {%- do run_query('drop table if exists ' ~ changes) -%}
        {%- do run_query('drop table if exists ' ~ replacement) -%}
        {%- do run_query('create table ' ~ changes ~ ' using parquet as select * from ' ~ source) -%}
        {%- do run_query(
            'create table ' ~ replacement ~ ' using parquet as'
            ~ ' select ' ~ columns ~ ' from ' ~ target ~ ' as stored'
            ~ ' left anti join (select distinct ' ~ (keys | join(', ')) ~ ' from ' ~ changes
            ~ " where incremental_change <> 'reset') as touched on " ~ (key_match | join(' and '))
            ~ " where not exists (select 1 from " ~ changes ~ " where incremental_change = 'reset')"
            ~ ' union all'
            ~ ' select ' ~ columns ~ ' from ' ~ changes ~ " where incremental_change = 'row'"
        ) -%}
        {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ replacement) -%}
        {%- do run_query('drop table if exists ' ~ changes) -%}
    {%- endif -%}
    drop table if exists {{ replacement }}
{%- endmacro %}

{#- The key rows a `replace_keys` model unions to its rows on an incremental run: a 'delete' row per key of
    `touched` (the key columns from it, every other column of `columns` null), or, when the run rebuilds the
    model in full, one 'reset' row of nulls (the strategy then empties the table before the insert). -#}
{% macro replace_keys_key_rows(columns, key_columns, incremental_run, touched) -%}
    select
        {%- for column in columns %}
        {{ column if incremental_run and column in key_columns else 'null' }} as {{ column }},
        {%- endfor %}
        '{{ 'delete' if incremental_run else 'reset' }}' as incremental_change
    {%- if incremental_run %}
    from {{ touched }}
    {%- endif %}
{%- endmacro %}

{#- One value of the first row of `sql`, or none (no rows, or at parse time). -#}
{% macro scalar_query(sql) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set result = run_query(sql) -%}
    {%- if result.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {{ return(result.rows[0][0]) }}
{%- endmacro %}

{#- Pre-hook of the incremental models whose layout gained a column: add the missing columns (name: data type) to
    the stored table, with a log line. The models keep on_schema_change='ignore' (their output also carries the
    marker column incremental_change, which must not be stored), so dbt itself would never add them; the layout
    bump that goes with the new column then rebuilds the table in place, filling it. Nothing when the table does
    not exist yet or has the columns. -#}
{% macro add_missing_columns(relation, columns) -%}
    {%- set existing = stored_table(relation) -%}
    {%- if existing is not none -%}
        {%- set names = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
        {%- set missing = [] -%}
        {%- for name, data_type in columns.items() if name | lower not in names -%}
            {%- do missing.append(api.Column.create(name, data_type)) -%}
        {%- endfor -%}
        {%- if missing -%}
            {%- do alter_relation_add_remove_columns(existing, missing, none) -%}
            {{ log(model.name ~ ": added column(s) " ~ (missing | map(attribute='name') | join(', '))
                ~ " of the new layout to the stored table", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The stored table of an incremental model, for its layout pre-hooks: none when the table does not exist yet (or
    is not a table), at parse time, and in unit tests. -#}
{% macro stored_table(relation) -%}
    {%- if execute and model.resource_type != 'unit_test' -%}
        {%- set existing = load_relation(relation) -%}
        {%- if existing is not none and existing.is_table -%}
            {{ return(existing) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- Pre-hook of the incremental models whose layout retired a column: drop it from the stored table, with a log
    line. The strategy inserts into the stored table's columns, so a column the model no longer writes would
    fail the run; the layout bump that goes with it rebuilds the table in place. Nothing when the table does not
    exist yet or has none of the columns. -#}
{% macro drop_retired_columns(relation, names) -%}
    {%- set existing = stored_table(relation) -%}
    {%- if existing is not none -%}
        {%- set retired_names = names | map('lower') | list -%}
        {%- set retired = [] -%}
        {%- for column in adapter.get_columns_in_relation(existing) if column.name | lower in retired_names -%}
            {%- do retired.append(column) -%}
        {%- endfor -%}
        {%- if retired -%}
            {%- do adapter.dispatch('drop_stored_columns', 'lead_scoring')(existing, retired) -%}
            {{ log(model.name ~ ": dropped column(s) " ~ (retired | map(attribute='name') | join(', '))
                ~ " of an older layout from the stored table", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro default__drop_stored_columns(relation, columns) -%}
    {%- do alter_relation_add_remove_columns(relation, none, columns) -%}
{%- endmacro %}

{#- Spark cannot drop a column from a Parquet table: the run stops and says how to rebuild it. -#}
{% macro spark__drop_stored_columns(relation, columns) -%}
    {{ exceptions.raise_compiler_error(
        model.name ~ ": the stored table " ~ relation ~ " has column(s) "
        ~ (columns | map(attribute='name') | join(', ')) ~ " of an older layout, and Spark cannot drop a column"
        ~ " from a Parquet table. Fix: dbt build --full-refresh --select " ~ model.name
    ) }}
{%- endmacro %}

{#- Why a model must be built in full on this run (text), or none for an incremental run. Logs the line
    "<model>: full rebuild: <reason>" when it is not incremental. `checks` is a list of (condition, reason)
    evaluated in order by the caller. -#}
{% macro log_full_rebuild(reason) -%}
    {%- if execute and reason is not none and model.resource_type != 'unit_test' -%}
        {{ log(model.name ~ ": full rebuild: " ~ reason, info=true) }}
    {%- endif -%}
{%- endmacro %}

{% macro not_incremental_reason() -%}
    {%- if flags.FULL_REFRESH -%}
        {{ return('--full-refresh') }}
    {%- elif this is none or load_relation(this) is none -%}
        {{ return('the table does not exist yet') }}
    {%- else -%}
        {{ return('the relation is not a table') }}
    {%- endif -%}
{%- endmacro %}

{#- State of stg_crm__event_deliveries_ranked for this run: dict with
    reason (none = incremental), cutoff (text timestamp: deliveries loaded at or after it - after it when
    cutoff_inclusive is false -, or without a _loaded_at, are read again), batch (the delivery_batch of the rows written now) and build_id (the
    deliveries_build_id of the stored generation). -#}
{% macro event_deliveries_state() -%}
    {%- set state = {'reason': none, 'cutoff': none, 'cutoff_inclusive': true, 'batch': 1, 'build_id': invocation_id} -%}
    {%- if not execute -%}{{ return(state) }}{%- endif -%}
    {%- if not is_incremental() -%}
        {%- do state.update({'reason': not_incremental_reason()}) -%}
        {%- do log_full_rebuild(state.reason) -%}
        {{ return(state) }}
    {%- endif -%}
    {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- for needed in ['delivery_batch', 'deliveries_build_id', 'deliveries_layout'] -%}
        {%- if needed not in names and state.reason is none -%}
            {%- do state.update({'reason': 'the stored table has an older layout (no column ' ~ needed ~ ')'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if state.reason is none -%}
        {%- set stored = run_query(
            "select max(loaded_at), max(delivery_batch), max(deliveries_build_id), min(deliveries_layout),"
            ~ " max(deliveries_layout), count(*) from " ~ this
        ).rows[0] -%}
        {%- if stored[5] == 0 -%}
            {%- do state.update({'reason': 'the stored table is empty'}) -%}
        {%- elif stored[3] != event_deliveries_layout() or stored[4] != event_deliveries_layout() -%}
            {%- do state.update({'reason': 'the stored table has an older layout (version ' ~ stored[3] ~ ', now '
                ~ event_deliveries_layout() ~ ')'}) -%}
        {%- elif stored[0] is none -%}
            {%- do state.update({'reason': 'no stored delivery has a _loaded_at to continue from'}) -%}
        {%- else -%}
            {%- set cutoff = (stored[0] - modules.datetime.timedelta(days=event_lookback_days())).strftime('%Y-%m-%d %H:%M:%S.%f') -%}
            {%- set counts = run_query(
                "select (select count(*) from " ~ source('crm', 'events')
                ~ " where cast(_loaded_at as " ~ dbt.type_timestamp() ~ ") < cast('" ~ cutoff ~ "' as "
                ~ dbt.type_timestamp() ~ ")), (select count(*) from " ~ this
                ~ " where loaded_at < cast('" ~ cutoff ~ "' as " ~ dbt.type_timestamp() ~ "))"
            ).rows[0] -%}
            {%- if counts[0] != counts[1] -%}
                {%- do state.update({'reason': 'raw events loaded before ' ~ cutoff ~ ' (the look-back window) number '
                    ~ counts[0] ~ ' but ' ~ counts[1] ~ ' are stored: rows landed later than the look-back window'
                    ~ ' or raw rows were removed'}) -%}
            {%- else -%}
                {#- Inside the window: when raw and stored agree up to the watermark, nothing landed late in it, so
                    only rows loaded after the watermark are new; otherwise the whole window is read again. -#}
                {%- set watermark = stored[0].strftime('%Y-%m-%d %H:%M:%S.%f') -%}
                {%- set window_counts = run_query(
                    "select (select count(*) from " ~ source('crm', 'events')
                    ~ " where cast(_loaded_at as " ~ dbt.type_timestamp() ~ ") <= cast('" ~ watermark ~ "' as "
                    ~ dbt.type_timestamp() ~ ")), (select count(*) from " ~ this
                    ~ " where loaded_at <= cast('" ~ watermark ~ "' as " ~ dbt.type_timestamp() ~ "))"
                ).rows[0] -%}
                {%- if window_counts[0] == window_counts[1] -%}
                    {%- do state.update({'cutoff': watermark, 'cutoff_inclusive': false}) -%}
                {%- else -%}
                    {%- do state.update({'cutoff': cutoff, 'cutoff_inclusive': true}) -%}
                {%- endif -%}
                {%- do state.update({'batch': stored[1] + 1, 'build_id': stored[2]}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if state.reason is not none -%}
        {%- set next_batch = scalar_query("select coalesce(max(delivery_batch), 0) + 1 from " ~ this) if 'delivery_batch' in names else 1 -%}
        {%- do state.update({'batch': next_batch, 'build_id': invocation_id}) -%}
    {%- endif -%}
    {%- do log_full_rebuild(state.reason) -%}
    {{ return(state) }}
{%- endmacro %}

{#- The models stored per (lead, day) - int_engagement_daily_points, int_engagement_burst_minutes - keep their
    build state in <model>_state: one row per lead staged at the latest build, with that build's rule-set
    version, as_of, the delivery batch read, the deliveries generation and the layout (docs/incremental.md). -#}
{% macro lead_day_state_relation() -%}
    {{ return(sibling_relation('state')) }}
{%- endmacro %}

{#- State of a lead-day model for this run: dict with reason (none = incremental), and for an incremental run
    the stored build's as_of (prev_as_of) and the delivery batch it has read (batch_through). A model that is
    rebuilt as a table every run and keeps only its state (incremental_model=false: int_lead_scoring_scope)
    continues from that state unless --full-refresh. -#}
{% macro lead_day_state(deliveries_relation, ruleset_relation, layout, incremental_model=true) -%}
    {%- set state = {'reason': none, 'prev_as_of': none, 'batch_through': none} -%}
    {%- if not execute -%}{{ return(state) }}{%- endif -%}
    {%- if (incremental_model and not is_incremental()) or flags.FULL_REFRESH -%}
        {%- do state.update({'reason': not_incremental_reason()}) -%}
        {%- do log_full_rebuild(state.reason) -%}
        {{ return(state) }}
    {%- endif -%}
    {%- set state_relation = load_relation(lead_day_state_relation()) -%}
    {%- set as_of_text = as_of_datetime().strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- set state_columns = adapter.get_columns_in_relation(state_relation) | map(attribute='name') | map('lower') | list
        if state_relation is not none else [] -%}
    {%- if state_relation is none -%}
        {%- do state.update({'reason': 'its state table ' ~ lead_day_state_relation().identifier ~ ' is missing'}) -%}
    {%- elif 'state_layout' not in state_columns -%}
        {%- do state.update({'reason': 'its state table has an older layout (no column state_layout)'}) -%}
    {%- else -%}
        {%- set stored = run_query(
            "select max(ruleset_version), min(ruleset_version), max(built_as_of), max(delivery_batch_through),"
            ~ " max(deliveries_build_id), min(state_layout), max(state_layout), count(*) from " ~ state_relation
        ).rows[0] -%}
        {%- set current = run_query(
            "select (select max(ruleset_version) from " ~ ruleset_relation ~ "),"
            ~ " (select max(deliveries_build_id) from " ~ deliveries_relation ~ "),"
            ~ " (select max(delivery_batch) from " ~ deliveries_relation ~ ")"
        ).rows[0] -%}
        {%- if stored[7] == 0 -%}
            {%- do state.update({'reason': 'its state is empty (no lead was staged at the last build)'}) -%}
        {%- elif stored[5] != layout or stored[6] != layout -%}
            {%- do state.update({'reason': 'the stored table has an older layout (version ' ~ stored[5] ~ ', now '
                ~ layout ~ ')'}) -%}
        {%- elif stored[0] != current[0] or stored[1] != current[0] -%}
            {%- do state.update({'reason': 'the rule-set version changed from ' ~ stored[0] ~ ' to ' ~ current[0]}) -%}
        {%- elif stored[2] is none or stored[2].strftime('%Y-%m-%d %H:%M:%S') > as_of_text -%}
            {%- do state.update({'reason': 'as_of ' ~ as_of_text ~ " is earlier than the build's as_of "
                ~ (stored[2].strftime('%Y-%m-%d %H:%M:%S') if stored[2] is not none else 'none')}) -%}
        {%- elif stored[4] != current[1] or current[2] is none or stored[3] > current[2] -%}
            {%- do state.update({'reason': 'the event deliveries were rebuilt since this table was built'}) -%}
        {%- else -%}
            {%- do state.update({'prev_as_of': stored[2].strftime('%Y-%m-%d %H:%M:%S'), 'batch_through': stored[3]}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- do log_full_rebuild(state.reason) -%}
    {{ return(state) }}
{%- endmacro %}

{#- State of a model stored per lead whose values depend on as_of only through its date (decay counts whole
    days): lead_day_state, and a full rebuild when as_of is on another day than the stored build's. -#}
{% macro scoring_day_state(deliveries_relation, ruleset_relation, layout, incremental_model=true) -%}
    {%- set state = lead_day_state(deliveries_relation, ruleset_relation, layout, incremental_model) -%}
    {%- if state.reason is none and state.prev_as_of is not none -%}
        {%- set as_of_text = as_of_datetime().strftime('%Y-%m-%d %H:%M:%S') -%}
        {%- if state.prev_as_of[:10] != as_of_text[:10] -%}
            {%- do state.update({'reason': "as_of " ~ as_of_text ~ " is on another scoring day than the build's as_of "
                ~ state.prev_as_of ~ ' (decay counts whole days)'}) -%}
            {%- do log_full_rebuild(state.reason) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(state) }}
{%- endmacro %}

{#- The CTEs previous_leads, current_leads and changed_leads of an incremental run: the leads staged at the
    stored build (its lead-day state) or now, but not both - a lead that became staged or stopped being staged.
    Ends with a comma. -#}
{% macro changed_leads_ctes(leads_relation, state_relation) -%}
    previous_leads as (

        select stored_state.lead_id from {{ state_relation }} as stored_state

    ),

    current_leads as (

        select lead_id from {{ leads_relation }}

    ),

    changed_leads as (

        select coalesce(current_leads.lead_id, previous_leads.lead_id) as lead_id

        from current_leads
        full outer join previous_leads
            on current_leads.lead_id = previous_leads.lead_id
        where current_leads.lead_id is null or previous_leads.lead_id is null

    ),
{%- endmacro %}

{#- The CTEs previous_leads ... touched_days of an incremental lead-day run: the (lead_id, activity_date) pairs
    to recompute - days of deliveries written after the batch the build read (new, re-delivered, re-read in
    the look-back window, or re-ranked), days of events that were after the build's as_of and are not after
    this one, every delivered day of a lead that became staged or stopped being staged, and every stored day
    of such a lead (stored_days: the stored table has an activity_date; a model stored per lead and built from
    the lead-days needs none: a changed lead with stored rows has delivered days). Ends with a comma. -#}
{% macro touched_lead_days_ctes(state, deliveries_relation, leads_relation, state_relation, stored_days=true) -%}
    {{ changed_leads_ctes(leads_relation, state_relation) }}

    {#- Two selects, not one with an OR: the batch half skips the row groups written before the batch (DuckDB's
        zone maps), the window half filters on one column; at 102M deliveries the union took 0.21 s warm, the OR,
        which reads the four columns of every row, 0.47 s (docs/performance.md). #}
    {%- set touched_when = [
        'deliveries.delivery_batch > ' ~ state.batch_through,
        "deliveries.occurred_at > cast('" ~ state.prev_as_of ~ "' as " ~ dbt.type_timestamp() ~ ')'
            ~ ' and deliveries.occurred_at <= ' ~ as_of_timestamp(),
    ] %}
    touched_by_deliveries as (
        {%- for condition in touched_when %}

        select
            deliveries.lead_id,
            deliveries.activity_date

        from {{ deliveries_relation }} as deliveries
        where
            deliveries.lead_id is not null
            and deliveries.activity_date is not null
            and {{ condition }}
        {%- if not loop.last %}

        union
        {%- endif %}
        {%- endfor %}

    ),

    touched_by_changed_leads as (

        select distinct
            deliveries.lead_id,
            deliveries.activity_date

        from {{ deliveries_relation }} as deliveries
        inner join changed_leads
            on deliveries.lead_id = changed_leads.lead_id
        where deliveries.activity_date is not null

    ),

    {%- if stored_days %}

    stored_days_of_changed_leads as (

        select distinct
            stored_rows.lead_id,
            stored_rows.activity_date

        from {{ this }} as stored_rows
        inner join changed_leads
            on stored_rows.lead_id = changed_leads.lead_id

    ),

    {%- endif %}

    touched_days as (

        select * from touched_by_deliveries
        union
        select * from touched_by_changed_leads
        {%- if stored_days %}
        union
        select * from stored_days_of_changed_leads
        {%- endif %}

    ),
{%- endmacro %}

{#- Post-hook of the lead-day models: record the build's state for the next run's decisions (the stored state
    table is dropped, then created again with the adapter's own create-table-as). with_scope_id (the lead scope,
    macros/lead_scope.sql): also the run's scope_id (its dbt invocation id). -#}
{% macro save_lead_day_state(leads_relation, deliveries_relation, ruleset_relation, layout, with_scope_id=false) -%}
    {%- set state_sql -%}
    select
        leads.lead_id,
        {%- if with_scope_id %}
        '{{ invocation_id }}' as scope_id,
        {%- endif %}
        ruleset.ruleset_version,
        {{ as_of_timestamp() }} as built_as_of,
        deliveries.delivery_batch_through,
        deliveries.deliveries_build_id,
        {{ layout }} as state_layout
    from {{ leads_relation }} as leads
    cross join (select max(ruleset_version) as ruleset_version from {{ ruleset_relation }}) as ruleset
    cross join (
        select
            coalesce(max(delivery_batch), 0) as delivery_batch_through,
            max(deliveries_build_id) as deliveries_build_id
        from {{ deliveries_relation }}
    ) as deliveries
    {%- endset -%}
    {{ replace_bookkeeping_table(lead_day_state_relation(), state_sql) }}
{%- endmacro %}

{#- The CTE scoped_events of the two lead-day models (int_engagement_daily_points and
    int_engagement_burst_minutes), from their CTE events: on an incremental run only the staged events of the
    touched lead-days (touched_lead_days_ctes), otherwise all of them. Ends with a comma. -#}
{% macro scoped_lead_day_events_ctes(state, incremental_run) -%}
    {%- if incremental_run %}

        {{ touched_lead_days_ctes(
            state,
            ref('stg_crm__event_deliveries_ranked'),
            ref('stg_crm__leads'),
            lead_day_state_relation()
        ) }}

        {#- Materialised: otherwise DuckDB, estimating the rule matches with LIKE patterns at 1% of their real
            size, matched every staged event against the rules first and joined the touched days last (at 100k
            leads: 5.5 s, 12M matches, for 20k events; with the fence 1.2 s). #}
        scoped_events as {{ materialized_cte() }} (

            select events.*

            from events
            inner join touched_days
                on events.lead_id = touched_days.lead_id
                    and events.activity_date = touched_days.activity_date

        ),

    {%- else %}

        scoped_events as (

            select * from events

        ),

    {%- endif %}
{%- endmacro %}
