{#- Limits of the rule-health marts (docs/rule_health.md), dbt vars with these defaults, each a share in [0, 1]:
    rule_health_max_fire_share 0.95 (a rule firing on this share of scored leads or more hardly separates leads),
    rule_health_min_fire_share 0.005 (at this share or less it almost never fires),
    band_health_max_share 0.9 (this share or more of the leads in one fit grade or one engagement level). -#}
{% macro health_limit(name) -%}
    {%- set defaults = {
        'rule_health_max_fire_share': 0.95,
        'rule_health_min_fire_share': 0.005,
        'band_health_max_share': 0.9,
    } -%}
    {%- set raw = var(name, defaults[name]) -%}
    {%- set text = raw | string | trim -%}
    {%- if not modules.re.match('^(0([.][0-9]+)?|1([.]0+)?|[.][0-9]+)$', text) -%}
        {{ exceptions.raise_compiler_error(
            "The dbt var " ~ name ~ " is '" ~ raw ~ "', which is not a share from 0 to 1. "
            ~ "Fix: pass --vars '{" ~ name ~ ": " ~ defaults[name] ~ "}' (a number from 0 to 1), or leave it unset for "
            ~ defaults[name] ~ "."
        ) }}
    {%- endif -%}
    {{ return(text | float) }}
{%- endmacro %}

{#- `share` (a double in [0, 1]) as a percentage text with one decimal, for example 97.3%. -#}
{% macro share_text(share) -%}
    {{ dbt.concat([rounded_text('100 * ' ~ share, 1), "'%'"]) }}
{%- endmacro %}
