{#- Seeds on Spark. Every seed column is declared `varchar` in seeds/_seeds.yml (all load as text; staging
    validates and casts), but Spark wants a length on VARCHAR and has STRING for text: these read the declared
    varchar as the adapter's string type. The rows are written as SQL literals here because dbt-spark's
    `session` connection pastes bound values in quotes without escaping them (a value with an apostrophe breaks
    the statement) and binds a missing value as the text 'None'; here a missing value is null. -#}
{% macro spark_seed_text_types(model) -%}
    {%- set column_types = model['config'].get('column_types') or {} -%}
    {%- for name, data_type in column_types.items() if (data_type | lower | trim) == 'varchar' -%}
        {%- do column_types.update({name: dbt.type_string()}) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spark__create_csv_table(model, agate_table) -%}
    {%- do spark_seed_text_types(model) -%}
    {{ return(dbt.spark__create_csv_table(model, agate_table)) }}
{%- endmacro %}

{#- A Spark SQL literal of a seed value: null, a number, a boolean, or a quoted string (backslashes and quotes
    escaped, as Spark string literals read backslash escapes). -#}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- elif value is sameas true or value is sameas false -%}
        {{ return('true' if value else 'false') }}
    {%- elif value is number -%}
        {{ return(value | string) }}
    {%- else -%}
        {{ return("'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- do spark_seed_text_types(model) -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set tuples = [] -%}
        {%- for row in chunk -%}
            {%- set values = [] -%}
            {%- for value in row -%}
                {%- do values.append('cast(' ~ spark_seed_literal(value) ~ ' as ' ~ types[loop.index0] ~ ')') -%}
            {%- endfor -%}
            {%- do tuples.append('(' ~ (values | join(', ')) ~ ')') -%}
        {%- endfor -%}
        {%- set sql = 'insert into ' ~ this.render() ~ ' values ' ~ (tuples | join(', ')) -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- do statements.append(sql) -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{%- endmacro %}
