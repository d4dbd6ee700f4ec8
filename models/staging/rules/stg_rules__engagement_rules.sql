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
    {#- The property condition and points per unit (docs/scoring_rules.md, "Engagement"). #}
    union all
    {{ check_numeric(seed, key, 'property_min') }}
    union all
    {{ check_numeric(seed, key, 'property_max') }}
    union all
    {{ check_numeric(seed, key, 'property_unit') }}
    union all
    select
        {{ key }} as row_ref,
        'property_name is ''' || {{ clean_text('property_name') }}
            || ''', which is not a plain property name.' as problem,
        'give the top-level key of the event properties as written, letters, digits and _ only, not starting with a digit (for example duration_seconds).' as fix
    from {{ ref(seed) }}
    where
        {{ clean_text('property_name') }} is not null
        and not {{ regexp_matches(clean_text('property_name'), "'^[A-Za-z_][A-Za-z0-9_]*$'") }}
    union all
    {%- for column in ['property_min', 'property_max', 'property_unit'] %}
    select
        {{ key }} as row_ref,
        '{{ column }} is set but property_name is blank.' as problem,
        'name the event property it applies to in property_name (for example duration_seconds), or clear {{ column }}.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('property_name') }} is null and {{ clean_text(column) }} is not null
    union all
    {%- endfor %}
    select
        {{ key }} as row_ref,
        'property_min ' || {{ clean_text('property_min') }} || ' is not below property_max '
            || {{ clean_text('property_max') }} || ': no value can match.' as problem,
        'make property_min smaller than property_max (the range is min <= value < max), or clear one of them.' as fix
    from {{ ref(seed) }}
    where {{ to_number('property_min') }} >= {{ to_number('property_max') }}
    union all
    select
        {{ key }} as row_ref,
        'property_unit is ''' || {{ clean_text('property_unit') }} || ''', which is not above 0.' as problem,
        'give the size of one unit of the property, above 0 (for example 60 for one point per minute of duration_seconds), or clear property_unit for points per event.' as fix
    from {{ ref(seed) }}
    where {{ to_number('property_unit') }} <= 0
    union all
    select
        {{ key }} as row_ref,
        'points per unit of ' || {{ clean_text('property_name') }} || ' (points / property_unit) is above 1000000.' as problem,
        'use a larger property_unit or fewer points: one unit of the property should be worth at most 1000000 points.' as fix
    from {{ ref(seed) }}
    where {{ to_number('property_unit') }} > 0
        and abs({{ to_number('points') }}) / {{ to_number('property_unit') }} > 1000000
    union all
    select
        {{ key }} as row_ref,
        'property_' || case when abs({{ to_number('property_min') }}) > 1e12 then 'min' else 'max' end
            || ' is beyond 1e12, and property values beyond 1e12 never match.' as problem,
        'give bounds between -1e12 and 1e12, or leave the bound blank.' as fix
    from {{ ref(seed) }}
    where abs({{ to_number('property_min') }}) > 1e12 or abs({{ to_number('property_max') }}) > 1e12
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
        {{ clean_text('description') }} as rule_description,
        {{ clean_text('property_name') }} as property_name,
        {{ to_number('property_min') }} as property_min,
        {{ to_number('property_max') }} as property_max,
        {{ to_number('property_unit') }} as property_unit

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
