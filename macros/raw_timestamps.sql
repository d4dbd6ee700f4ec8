{#- Raw timestamps (docs/raw_contract.md, "Timestamps"). A timestamp column of the raw contract (leads created_at
    and updated_at, events occurred_at, opportunities created_at and closed_at; never _loaded_at) may be landed
    typed (TIMESTAMP, TIMESTAMP WITH TIME ZONE, DATE: cast as before) or as text. Text is parsed by trying, in
    this order, and keeping the first that gives a value:
      1. ISO 8601 with a zone (`Z`, `+08:00`, `+0800`, `-05`): converted to UTC;
      2. ISO 8601 without a zone (`2026-10-01`, `2026-10-01 09:30`, `2026-10-01T09:30:00.123`): read as UTC;
      3. epoch seconds (`1790000000`, `1790000000.5`; up to 11 integer digits);
      4. each format of seeds/raw_timestamp_formats.csv, in format_order (`%d-%m-%Y %H:%M`, ...).
    Blank text is null (a missing value, as before); text that matches none of them gives a null timestamp and
    `<column> is bad` = true, which staging quarantines as `bad_timestamp`.

    Which path a column takes is decided when the model compiles, from the landed column's type, so a typed
    column costs nothing more than before. A unit test always takes the text path (its fixtures are cast to
    the landed types, and ISO text of a typed value parses back to the same value). -#}

{#- The seed's formats may only use these strftime directives (each has a PostgreSQL and a Spark equivalent) and
    these literal characters; anything else fails the build naming the row (stg_rules__raw_timestamp_formats).
    The check is also what makes it safe to write a format into SQL as a string literal. -#}
{% macro raw_timestamp_format_pattern() -%}
    {{ return('^([ /:.,T-]|%[YymdHIMSfpb])+$') }}
{%- endmacro %}

{#- Check SQL (macros/seed_validation.sql, assert_no_bad_rows) for seeds/raw_timestamp_formats.csv. -#}
{% macro raw_timestamp_format_checks(seed_relation=none) -%}
    {%- set seed = 'raw_timestamp_formats' -%}
    select
        {{ seed_row_ref(['format_order']) }} as row_ref,
        'format_order is blank, not a number or used more than once.' as problem,
        'give every format its own whole number in format_order (formats are tried from the smallest).' as fix
    from {{ seed_relation if seed_relation is not none else ref(seed) }} as formats
    where
        {{ to_number('format_order') }} is null
        or (select count(*) from {{ seed_relation if seed_relation is not none else ref(seed) }} as others
            where {{ clean_text('others.format_order') }} = {{ clean_text('formats.format_order') }}) > 1
    union all
    select
        {{ seed_row_ref(['format_order']) }} as row_ref,
        'timestamp_format is ''' || coalesce(timestamp_format, '') || ''', which is blank or uses something other than the directives %Y %y %m %d %H %I %M %S %f %p %b and the characters space - / : . , T.' as problem,
        'write the format with those directives only (for example %d-%m-%Y %H:%M), or delete the row.' as fix
    from {{ seed_relation if seed_relation is not none else ref(seed) }}
    where
        {{ clean_text('timestamp_format') }} is null
        or not {{ regexp_matches(clean_text('timestamp_format'), "'" ~ raw_timestamp_format_pattern() ~ "'") }}
{%- endmacro %}

{#- The declared formats, validated, in format_order (read when the model runs; [] before the seed exists). -#}
{% macro raw_timestamp_formats() -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {#- The seed's relation from the graph, not ref(): inside a unit test ref() names the test's fixture, while the
        formats are configuration the test runs with (the models name the seed in a depends_on comment, so dbt
        builds it first). -#}
    {%- if graph.nodes is defined -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'seed' and node.name == 'raw_timestamp_formats' -%}
            {%- set seed_relation = adapter.get_relation(database=node.database, schema=node.schema,
                                                         identifier=node.alias) -%}
            {{ return(raw_timestamp_formats_of(seed_relation) if seed_relation is not none else []) }}
        {%- endfor -%}
    {%- else -%}
        {#- a unit test sees no graph: the seeds' schema is `rules` (dbt_project.yml) -#}
        {%- set seed_relation = adapter.get_relation(database=target.database, schema=generate_schema_name('rules', none),
                                                     identifier='raw_timestamp_formats') -%}
        {{ return(raw_timestamp_formats_of(seed_relation) if seed_relation is not none else []) }}
    {%- endif -%}
    {{ return([]) }}
{%- endmacro %}

{#- The validated formats of the seed table `seed_relation`, in format_order. -#}
{% macro raw_timestamp_formats_of(seed_relation) -%}
    {%- do assert_no_bad_rows_in(seed_relation, 'raw_timestamp_formats', raw_timestamp_format_checks(seed_relation)) -%}
    {%- set result = run_query(
        "select " ~ clean_text('timestamp_format') ~ " from " ~ seed_relation
        ~ " order by " ~ to_number('format_order')
    ) -%}
    {%- set formats = [] -%}
    {%- for row in result.rows -%}
        {#- checked again here: only a value matching the pattern (no quote, no backslash) reaches the SQL -#}
        {%- if row[0] is not none and modules.re.match(raw_timestamp_format_pattern(), row[0]) -%}
            {%- do formats.append(row[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(formats) }}
{%- endmacro %}

{#- True when the raw column `column` of `relation` (a source) is landed as text and must be parsed. -#}
{% macro raw_column_is_text(relation, column) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}{{ return(true) }}{%- endif -%}
    {%- set columns = raw_source_columns(relation) -%}
    {%- if columns is none -%}{{ return(false) }}{%- endif -%}
    {%- for landed in columns if landed.name | lower == column -%}
        {{ return(raw_type_family(landed.dtype) == 'text') }}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}

{#- The UTC timestamp of the raw column `column` of the source `relation`; `prefix` qualifies the column
    (for example 'raw_rows.'). -#}
{% macro raw_timestamp(relation, column, prefix='') -%}
    {%- if raw_column_is_text(relation, column) -%}
        {{ parse_timestamp_text(clean_text(prefix ~ column), raw_timestamp_formats()) }}
    {%- else -%}
        cast({{ prefix ~ column }} as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- True when the raw column holds text that is not blank and parses as no accepted timestamp. -#}
{% macro raw_timestamp_is_bad(relation, column, prefix='') -%}
    {%- if raw_column_is_text(relation, column) -%}
        ({{ clean_text(prefix ~ column) }} is not null
            and {{ parse_timestamp_text(clean_text(prefix ~ column), raw_timestamp_formats()) }} is null)
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{#- True when any of the raw columns `columns` holds a bad timestamp (`false` when all of them are typed). -#}
{% macro raw_timestamps_are_bad(relation, columns, prefix='') -%}
    {%- set checks = [] -%}
    {%- for column in columns if raw_column_is_text(relation, column) -%}
        {%- do checks.append(raw_timestamp_is_bad(relation, column, prefix)) -%}
    {%- endfor -%}
    {{ '(' ~ (checks | join(' or ')) ~ ')' if checks else 'false' }}
{%- endmacro %}

{#- The regular expressions of the built-in forms (SQL string literals, no backslashes, so every engine reads them
    alike). -#}
{% macro iso_timestamp_pattern(with_zone) -%}
    {%- set base = '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?' -%}
    {{ return("'" ~ base ~ (' ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$' if with_zone else '$') ~ "'") }}
{%- endmacro %}

{% macro epoch_seconds_pattern() -%}
    {{ return("'^[+-]?[0-9]{1,11}([.][0-9]+)?$'") }}
{%- endmacro %}

{#- The text expression `text_expr` (trimmed, blank already null) as a UTC timestamp, or null. -#}
{% macro parse_timestamp_text(text_expr, formats) -%}
    {{ return(adapter.dispatch('parse_timestamp_text', 'lead_scoring')(text_expr, formats)) }}
{%- endmacro %}

{#- DuckDB: try_cast and try_strptime never fail; TIMESTAMPTZ needs the ICU extension (bundled). -#}
{% macro default__parse_timestamp_text(text_expr, formats) -%}
    coalesce(
        case
            when {{ regexp_matches(text_expr, iso_timestamp_pattern(true)) }}
                then cast(try_cast({{ text_expr }} as timestamptz) at time zone 'UTC' as {{ dbt.type_timestamp() }})
        end,
        case
            when {{ regexp_matches(text_expr, iso_timestamp_pattern(false)) }}
                then try_cast({{ text_expr }} as {{ dbt.type_timestamp() }})
        end,
        case
            when {{ regexp_matches(text_expr, epoch_seconds_pattern()) }}
                then make_timestamp(cast(cast({{ text_expr }} as double) * 1000000 as bigint))
        end
        {%- for format in formats %},
        try_strptime({{ text_expr }}, '{{ format }}')
        {%- endfor %}
    )
{%- endmacro %}

{#- PostgreSQL: casts and to_timestamp fail on bad input, so each form is guarded by its pattern, and a value that
    matches a pattern but is no instant (month 13) goes through the try_ functions of create_portable_functions
    (macros/portable.sql), which give null. -#}
{% macro postgres__parse_timestamp_text(text_expr, formats) -%}
    {%- set pg = {'Y': 'YYYY', 'y': 'YY', 'm': 'MM', 'd': 'DD', 'H': 'HH24', 'I': 'HH12', 'M': 'MI', 'S': 'SS',
                  'f': 'US', 'p': 'AM', 'b': 'Mon'} -%}
    coalesce(
        case
            when {{ text_expr }} ~ {{ iso_timestamp_pattern(true) }}
                then {{ portable_functions_schema() }}.try_timestamp({{ text_expr }}, true)
        end,
        case
            when {{ text_expr }} ~ {{ iso_timestamp_pattern(false) }}
                then {{ portable_functions_schema() }}.try_timestamp({{ text_expr }}, false)
        end,
        case
            when {{ text_expr }} ~ {{ epoch_seconds_pattern() }}
                then to_timestamp(cast({{ text_expr }} as double precision)) at time zone 'UTC'
        end
        {%- for format in formats %},
        case
            when {{ text_expr }} ~ '{{ strftime_to_regex(format) }}'
                then {{ portable_functions_schema() }}.try_to_timestamp(
                    {{ text_expr }}, '{{ strftime_translate(format, pg) }}'
                )
        end
        {%- endfor %}
    )
{%- endmacro %}

{#- Spark (session time zone UTC, profiles.yml; non-ANSI casts give null on bad input). -#}
{% macro spark__parse_timestamp_text(text_expr, formats) -%}
    {%- set java = {'Y': 'yyyy', 'y': 'yy', 'm': 'MM', 'd': 'dd', 'H': 'HH', 'I': 'hh', 'M': 'mm', 'S': 'ss',
                    'f': 'SSSSSS', 'p': 'a', 'b': 'MMM'} -%}
    coalesce(
        case when {{ text_expr }} rlike {{ iso_timestamp_pattern(true) }} then cast({{ text_expr }} as timestamp) end,
        case when {{ text_expr }} rlike {{ iso_timestamp_pattern(false) }} then cast({{ text_expr }} as timestamp) end,
        case
            when {{ text_expr }} rlike {{ epoch_seconds_pattern() }}
                then timestamp_micros(cast(cast({{ text_expr }} as double) * 1000000 as bigint))
        end
        {%- for format in formats %},
        to_timestamp({{ text_expr }}, '{{ strftime_translate(format, java) }}')
        {%- endfor %}
    )
{%- endmacro %}

{#- A validated strftime format with each %X directive replaced by `mapping[X]` (literal characters kept). -#}
{% macro strftime_translate(format, mapping) -%}
    {%- set out = [] -%}
    {%- set state = {'directive': false} -%}
    {%- for char in format -%}
        {%- if state.directive -%}
            {%- do out.append(mapping[char]) -%}
            {%- do state.update({'directive': false}) -%}
        {%- elif char == '%' -%}
            {%- do state.update({'directive': true}) -%}
        {%- else -%}
            {%- do out.append(char) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(out | join('')) }}
{%- endmacro %}

{#- A regular expression that a value of the format matches (for engines without a non-failing parser). -#}
{% macro strftime_to_regex(format) -%}
    {%- set digits = {'Y': '[0-9]{4}', 'y': '[0-9]{2}', 'm': '[0-9]{1,2}', 'd': '[0-9]{1,2}', 'H': '[0-9]{1,2}',
                      'I': '[0-9]{1,2}', 'M': '[0-9]{1,2}', 'S': '[0-9]{1,2}', 'f': '[0-9]{1,6}',
                      'p': '[AaPp][Mm]', 'b': '[A-Za-z]{3}'} -%}
    {%- set literal = {'.': '[.]'} -%}
    {%- set out = ['^'] -%}
    {%- set state = {'directive': false} -%}
    {%- for char in format -%}
        {%- if state.directive -%}
            {%- do out.append(digits[char]) -%}
            {%- do state.update({'directive': false}) -%}
        {%- elif char == '%' -%}
            {%- do state.update({'directive': true}) -%}
        {%- else -%}
            {%- do out.append(literal.get(char, char)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do out.append('$') -%}
    {{ return(out | join('')) }}
{%- endmacro %}
