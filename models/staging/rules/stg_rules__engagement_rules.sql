{%- set seed = 'scoring_engagement_rules' -%}
{%- set key = seed_row_ref(['model_id', 'rule_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'rule_id']) }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_numeric(seed, key, 'points', required=true) }}
    union all
    {{ check_numeric(seed, key, 'max_points', min_value=0) }}
    union all
    {{ check_accepted(seed, key, 'decay_method', ['exponential', 'linear', 'window', 'none']) }}
    union all
    {{ check_accepted(seed, key, 'match_field', ['page_url', 'search_term'], required=false) }}
    union all
    {{ check_numeric(seed, key, 'decay_days') }}
    union all
    select
        {{ key }} as row_ref,
        'decay_method ' || lower({{ clean_text('decay_method') }}) || ' needs decay_days above 0, and it is '''
            || coalesce({{ clean_text('decay_days') }}, '') || '''.' as problem,
        'give the half-life (exponential), lifespan (linear) or window (window) in days, greater than 0.' as fix
    from {{ ref(seed) }}
    where lower({{ clean_text('decay_method') }}) in ('exponential', 'linear', 'window')
        and coalesce({{ to_number('decay_days') }}, 0) <= 0
    union all
    select
        {{ key }} as row_ref,
        'event_type is ''' || coalesce(lower({{ clean_text('event_type') }}), '') || ''', which is not in seeds/ref_event_types.csv.' as problem,
        'use a known event type, or add the new type to seeds/ref_event_types.csv.' as fix
    from {{ ref(seed) }} as rule_rows
    where not exists (
        select 1
        from {{ ref('ref_event_types') }} as event_types
        where lower({{ clean_text('event_types.event_type') }}) = lower({{ clean_text('rule_rows.event_type') }})
    )
    union all
    select
        {{ key }} as row_ref,
        'match_field is set but pattern is blank.' as problem,
        'give a SQL LIKE pattern such as %pricing%, or clear match_field.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('match_field') }} is not null and {{ clean_text('pattern') }} is null
    union all
    select
        {{ key }} as row_ref,
        'pattern is set but match_field is blank.' as problem,
        'set match_field to page_url or search_term, or clear pattern.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('match_field') }} is null and {{ clean_text('pattern') }} is not null
    union all
    {{ check_not_blank(seed, key, 'rule_group', "name the rule group (for example web, email, intent, negative); caps apply per group.") }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_engagement_rules') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ clean_text('rule_id') }} as rule_id,
        lower({{ clean_text('rule_group') }}) as rule_group,
        lower({{ clean_text('event_type') }}) as event_type,
        lower({{ clean_text('channel') }}) as channel,
        lower({{ clean_text('match_field') }}) as match_field,
        lower({{ clean_text('pattern') }}) as match_pattern,
        {{ to_number('points') }} as points,
        lower({{ clean_text('decay_method') }}) as decay_method,
        {{ to_number('decay_days') }} as decay_days,
        {{ to_number('max_points') }} as max_points,
        {{ clean_text('description') }} as rule_description

    from source

)

select * from final
