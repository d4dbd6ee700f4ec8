{#- The invariants of one `invariants` test as a list of {kind, label, failing (a row predicate), columns}, its
    arguments checked: a wrong shape stops the compile, naming the model, the argument and the fix. -#}
{% macro invariants_checks(not_null, unique, accepted_range, accepted_values, expressions) %}
    {%- set where_ = "invariants test on " ~ invariants_tested_model() ~ ": " -%}
    {%- set checks = [] -%}
    {%- if not (not_null or unique or accepted_range or accepted_values or expressions) -%}
        {{ exceptions.raise_compiler_error(where_ ~ "no invariant given; give at least one of not_null, unique,"
            ~ " accepted_range, accepted_values, expressions under `arguments:`.") }}
    {%- endif -%}
    {%- for name, value in [('not_null', not_null), ('unique', unique), ('expressions', expressions)] -%}
        {%- if value is not none and (value is string or value is mapping or value is not iterable) -%}
            {{ exceptions.raise_compiler_error(where_ ~ name ~ " must be a list, e.g. " ~ name
                ~ ": [lead_id]; got " ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for name, value in [('accepted_range', accepted_range), ('accepted_values', accepted_values)] -%}
        {%- if value is not none and value is not mapping -%}
            {{ exceptions.raise_compiler_error(where_ ~ name ~ " must map column names to "
                ~ ("{min_value: .., max_value: ..}" if name == 'accepted_range' else "a list of values")
                ~ ", e.g. " ~ name ~ ": {fit_score: "
                ~ ("{min_value: 0, max_value: 100}" if name == 'accepted_range' else "[a, b]") ~ "}; got " ~ value) }}
        {%- endif -%}
    {%- endfor -%}

    {%- for column in not_null or [] -%}
        {%- if column is not string -%}
            {{ exceptions.raise_compiler_error(where_ ~ "not_null takes column names; got " ~ column) }}
        {%- endif -%}
        {%- do checks.append({'kind': 'not_null', 'label': 'not_null(' ~ column ~ ')',
            'failing': column ~ ' is null'}) -%}
    {%- endfor -%}

    {%- for key in unique or [] -%}
        {%- set columns = [key] if key is string else key -%}
        {%- if columns is mapping or columns | length == 0 or columns | reject('string') | list -%}
            {{ exceptions.raise_compiler_error(where_ ~ "each unique entry is a column name or a list of column"
                ~ " names (a unique combination), e.g. unique: [lead_id, [model_id, lead_id]]; got " ~ key) }}
        {%- endif -%}
        {%- do checks.append({'kind': 'unique', 'label': 'unique(' ~ columns | join(', ') ~ ')',
            'columns': columns}) -%}
    {%- endfor -%}

    {%- for column, options in (accepted_range or {}).items() -%}
        {%- set unknown = (options.keys() | list | reject('in', ['min_value', 'max_value', 'inclusive']) | list)
            if options is mapping else ['(not a mapping)'] -%}
        {%- if unknown or (options.get('min_value') is none and options.get('max_value') is none) -%}
            {{ exceptions.raise_compiler_error(where_ ~ "accepted_range of " ~ column ~ " needs min_value,"
                ~ " max_value or both (and optionally inclusive), e.g. {min_value: 0, max_value: 100}; got "
                ~ options) }}
        {%- endif -%}
        {%- set inclusive = options.get('inclusive', true) -%}
        {%- set outside = [] -%}
        {%- if options.get('min_value') is not none -%}
            {%- do outside.append('not (' ~ column ~ (' >= ' if inclusive else ' > ') ~ options.min_value ~ ')') -%}
        {%- endif -%}
        {%- if options.get('max_value') is not none -%}
            {%- do outside.append('not (' ~ column ~ (' <= ' if inclusive else ' < ') ~ options.max_value ~ ')') -%}
        {%- endif -%}
        {%- do checks.append({'kind': 'accepted_range', 'label': 'accepted_range(' ~ column ~ ')',
            'failing': column ~ ' is not null and (' ~ outside | join(' or ') ~ ')'}) -%}
    {%- endfor -%}

    {%- for column, values in (accepted_values or {}).items() -%}
        {%- if values is string or values is mapping or values is not iterable or values | length == 0 -%}
            {{ exceptions.raise_compiler_error(where_ ~ "accepted_values of " ~ column ~ " needs a non-empty list"
                ~ " of values, e.g. {fit_grade: [A, B, C, D]}; got " ~ values) }}
        {%- endif -%}
        {%- set quoted = [] -%}
        {%- for value in values -%}
            {%- do quoted.append("'" ~ dbt.escape_single_quotes(value | string) ~ "'") -%}
        {%- endfor -%}
        {%- do checks.append({'kind': 'accepted_values', 'label': 'accepted_values(' ~ column ~ ')',
            'failing': column ~ ' not in (' ~ quoted | join(', ') ~ ')'}) -%}
    {%- endfor -%}

    {%- for expression in expressions or [] -%}
        {%- if expression is not string or not expression.strip() -%}
            {{ exceptions.raise_compiler_error(where_ ~ "each expressions entry is a boolean SQL expression as a"
                ~ " string, e.g. expressions: [\"engagement_score <= 100\"]; got " ~ expression) }}
        {%- endif -%}
        {%- do checks.append({'kind': 'expression', 'label': 'expression(' ~ expression.split() | join(' ') ~ ')',
            'failing': 'not coalesce((' ~ expression ~ '), false)'}) -%}
    {%- endfor -%}
    {{ return(checks) }}
{% endmacro %}


{#- The name of the model an invariants test is attached to, for error messages: the test node's attached_node, or
    while parsing (not attached yet) its file_key_name, "models.<name>". -#}
{% macro invariants_tested_model() %}
    {%- set node = model if model is mapping else {} -%}
    {{ return((node.get('attached_node') or node.get('file_key_name') or 'its model').split('.')[-1]) }}
{% endmacro %}
