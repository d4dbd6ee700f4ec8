{%- set seed = 'routing_rules' -%}
{%- set key = seed_row_ref(['model_id', 'rule_id']) -%}
{%- set list_columns = ['regions', 'countries', 'industries', 'grades', 'matrix_cells'] -%}
{%- set catch_all -%}
    {%- for column in list_columns -%}
        {{ clean_text(column) }} is null{{ " and " if not loop.last }}
    {%- endfor -%}
{%- endset -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'priority']) }}
    union all
    {{ check_unique(seed, ['model_id', 'rule_id']) }}
    union all
    {{ check_not_blank(seed, key, 'rule_id', "give every routing rule an id, for example rr_emea.") }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_numeric(seed, key, 'priority', required=true) }}
    union all
    select
        {{ key }} as row_ref,
        'queue_id is ''' || coalesce({{ clean_text('rule_rows.queue_id') }}, '') || ''', which is not a queue in seeds/routing_queues.csv.' as problem,
        'use a queue_id listed in seeds/routing_queues.csv, or add that queue.' as fix
    from {{ ref(seed) }} as rule_rows
    where not exists (
        select 1
        from {{ ref('routing_queues') }} as queues
        where {{ clean_text('queues.queue_id') }} = {{ clean_text('rule_rows.queue_id') }}
    )
    union all
    {{ check_list_items(seed, key, 'regions',
        "select distinct lower(" ~ clean_text('region') ~ ") as known_value from " ~ ref('map_countries'),
        'lower', 'the regions in seeds/map_countries.csv') }}
    union all
    {{ check_list_items(seed, key, 'countries',
        "select distinct upper(" ~ clean_text('country_code') ~ ") as known_value from " ~ ref('map_countries'),
        'upper', 'the country codes in seeds/map_countries.csv') }}
    union all
    {{ check_list_items(seed, key, 'industries',
        "select distinct lower(" ~ clean_text('industry') ~ ") as known_value from " ~ ref('map_industries'),
        'lower', 'the industries in seeds/map_industries.csv') }}
    union all
    {{ check_list_items(seed, key, 'grades',
        "select 'A' as known_value union all select 'B' union all select 'C' union all select 'D'",
        'upper', 'the grades A, B, C, D') }}
    union all
    {{ check_list_items(seed, key, 'matrix_cells',
        "select grades.g || levels.l as known_value from (select 'A' as g union all select 'B' union all select 'C'"
        ~ " union all select 'D') as grades cross join (select '1' as l union all select '2' union all select '3'"
        ~ " union all select '4') as levels",
        'upper', 'the matrix cells A1 to D4') }}
    union all
    select
        'model_id = ' || {{ clean_text('models.model_id') }} as row_ref,
        'the model has no catch-all routing rule (every list blank), so some MQLs would have no queue.' as problem,
        'add a last rule (highest priority number) with a queue_id and every list blank: the fallback pool.' as fix
    from {{ ref('scoring_models') }} as models
    where not exists (
        select 1
        from {{ ref(seed) }} as rule_rows
        where {{ clean_text('rule_rows.model_id') }} = {{ clean_text('models.model_id') }}
            and {{ catch_all }}
    )
    union all
    select
        {{ key }} as row_ref,
        'the rule has priority ' || {{ clean_text('rule_rows.priority') }} || ', after the model''s catch-all rule at priority '
        || cast(fallbacks.fallback_priority as {{ dbt.type_string() }}) || ', so it can never match.' as problem,
        'give it a priority below the catch-all, or delete it; the catch-all must be the last rule of its model.' as fix
    from {{ ref(seed) }} as rule_rows
    inner join (
        select
            {{ clean_text('model_id') }} as fallback_model_id,
            min({{ to_number('priority') }}) as fallback_priority
        from {{ ref(seed) }}
        where {{ catch_all }}
        group by 1
    ) as fallbacks
        on {{ clean_text('rule_rows.model_id') }} = fallbacks.fallback_model_id
    where {{ to_number('rule_rows.priority') }} > fallbacks.fallback_priority
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('routing_rules') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ to_number('priority') }} as priority,
        {{ clean_text('rule_id') }} as rule_id,
        {{ clean_text('queue_id') }} as queue_id,
        {{ routing_list('regions', 'lower') }} as regions,
        {{ routing_list('countries', 'upper') }} as countries,
        {{ routing_list('industries', 'lower') }} as industries,
        {{ routing_list('grades', 'upper') }} as grades,
        {{ routing_list('matrix_cells', 'upper') }} as matrix_cells,
        {{ catch_all }} as is_fallback,
        {{ clean_text('description') }} as rule_description

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
