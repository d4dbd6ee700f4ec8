"""Privacy and secret hygiene: pure functions the tests (and a reviewer) use to audit the project.

- PII tagging: which dbt columns look like personal data by their name, which models and sources carry the
  ``meta: {contains_pii: true}`` tag (dbt manifest), which marts the BI exposures read, and the documented
  allow-list of personal columns a BI mart may carry (``BI_PII_ALLOW_LIST``, listed in docs/privacy.md).
- Secrets: values that look like credentials in text (URLs with a password, a password key assigned a
  literal value, private keys, well-known token formats), and credential keys in a dbt ``profiles.yml`` whose
  value is not read from the environment with ``env_var``.

No Dagster or dbt import: everything works on plain dicts and strings, so it is unit-tested on tiny fixtures.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PII_META_KEY = "contains_pii"

# Column names that hold a person's contact data or identity. Matched against the whole lower-cased name, so
# `email` and `valid_email` match while `email_domain` and `email_type` (no person in them) do not.
PII_COLUMN_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in (
    r"(^|_)e_?mail(_address)?$",
    r"(^|_)(first|last|full|given|family|middle|maiden)_?name$",
    r"^(sur|fore)name$",
    r"(^|_)(phone|mobile|cell_?phone|telephone|fax|whatsapp|wechat_id)(_number|_no)?$",
    r"(^|_)(street|home|postal|mailing)_address$",
    r"(^|_)(date_of_birth|birth_date|birthday|dob)$",
    r"(^|_)(ssn|national_id|passport_number|tax_id)$",
    r"(^|_)ip_address$",
))

# Columns with personal data that a BI-facing mart may carry, and why. Keyed by (mart, column). Every entry is
# explained in docs/privacy.md ("Allow-list"); the test fails on a tagged column of a BI mart not listed here.
BI_PII_ALLOW_LIST: Mapping[tuple[str, str], str] = {
    ("lead_assignments", "owner_name"): (
        "the name of the sales rep who owns the lead (an employee, from seeds/routing_queue_members.csv), not "
        "a lead's personal data: the dashboard shows who works each lead"),
}

# Exposure types whose consumers are BI users (dashboards); `application` (reverse-ETL) and `analysis`
# (engineers' data-quality review) are audited separately in docs/privacy.md.
BI_EXPOSURE_TYPES = frozenset({"dashboard"})


def is_pii_column_name(name: str) -> bool:
    """True when the column name says it holds a person's contact data or identity."""
    lowered = name.strip().lower()
    return any(p.search(lowered) for p in PII_COLUMN_PATTERNS)


def _meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A manifest node's or column's meta: `config.meta` (dbt >= 1.10) merged over the top-level `meta`."""
    config = props.get("config") or {}
    return {**(props.get("meta") or {}), **(config.get("meta") or {})}


def is_pii_tagged(props: Mapping[str, Any]) -> bool:
    return _meta(props).get(PII_META_KEY) is True


@dataclass(frozen=True)
class Resource:
    """A model, seed, snapshot or source table of the manifest, by its display name."""

    unique_id: str
    name: str  # models and seeds: their name; sources: "source:<source>.<table>"
    resource_type: str
    is_tagged: bool
    columns: Mapping[str, bool]  # documented column -> tagged


def project_resources(manifest: Mapping[str, Any], package: str | None = None) -> Iterator[Resource]:
    """Models, seeds, snapshots and sources of `package` (default: the manifest's root project)."""
    package = package or manifest.get("metadata", {}).get("project_name")
    for unique_id, node in {**manifest.get("nodes", {}), **manifest.get("sources", {})}.items():
        kind = node.get("resource_type")
        if kind not in ("model", "seed", "snapshot", "source") or (package and node.get("package_name") != package):
            continue
        name = f"source:{node['source_name']}.{node['name']}" if kind == "source" else node["name"]
        columns = {col_name: is_pii_tagged(col) for col_name, col in (node.get("columns") or {}).items()}
        yield Resource(unique_id, name, kind, is_pii_tagged(node), columns)


def untagged_pii_columns(resources: Iterable[Resource]) -> list[str]:
    """`resource.column` for every column whose name looks like PII but that is not tagged."""
    return sorted(f"{r.name}.{c}" for r in resources for c, tagged in r.columns.items()
                  if is_pii_column_name(c) and not tagged)


def resources_missing_model_tag(resources: Iterable[Resource]) -> list[str]:
    """Resources with a tagged column but no resource-level tag."""
    return sorted(r.name for r in resources if any(r.columns.values()) and not r.is_tagged)


def tagged_resource_names(resources: Iterable[Resource]) -> set[str]:
    return {r.name for r in resources if r.is_tagged or any(r.columns.values())}


def bi_marts(manifest: Mapping[str, Any], types: frozenset[str] = BI_EXPOSURE_TYPES) -> set[str]:
    """Names of the models the BI exposures (by type) depend on."""
    nodes = manifest.get("nodes", {})
    out = set()
    for exposure in manifest.get("exposures", {}).values():
        if exposure.get("type") in types:
            out |= {nodes[u]["name"] for u in exposure.get("depends_on", {}).get("nodes", []) if u in nodes}
    return out


def bi_pii_violations(resources: Iterable[Resource], marts: set[str],
                      allow_list: Mapping[tuple[str, str], str] = BI_PII_ALLOW_LIST) -> list[str]:
    """`mart.column` for every tagged or PII-named column of a BI mart that is not allow-listed."""
    out = []
    for r in resources:
        if r.name in marts:
            out += [f"{r.name}.{c}" for c, tagged in r.columns.items()
                    if (tagged or is_pii_column_name(c)) and (r.name, c) not in allow_list]
    return sorted(out)


_DOC_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def documented_pii_resources(markdown: str, heading: str = "## Where PII lives") -> set[str]:
    """The first-column backticked names of the table under `heading` in docs/privacy.md."""
    names, inside = set(), False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line.strip() == heading
            continue
        if inside and (m := _DOC_ROW.match(line)):
            names.add(m.group(1))
    return names


# ------------------------------------------------------------------------------------------------
# Secrets
# ------------------------------------------------------------------------------------------------
# Each pattern is written so that this file does not match itself.
SECRET_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "url with credentials": re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:[^\s/@'\"{}$]+@[^\s/'\"]+", re.I),
    "password literal": re.compile(
        r"""(?ix)(?<![a-z0-9])(password|passwd|pwd|secret|api_?key|access_?token|auth_?token)\b\s*[:=]\s*
            (?!\s*["']?\s*(\{\{|\$\{|<|%\(|env_var|os\.environ|getenv|none|null|true|false|""|''|\*+|$))
            ["']?[^\s"',;)]{6,}"""),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE" + r" KEY-----"),
    "aws access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "github token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{10,}"),
}


@dataclass(frozen=True)
class SecretFinding:
    path: str
    line: int
    kind: str


def find_secrets(text: str, path: str = "") -> list[SecretFinding]:
    """Lines of `text` holding something that looks like a credential."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        found += [SecretFinding(path, number, kind) for kind, pattern in SECRET_PATTERNS.items()
                  if pattern.search(line)]
    return found


CREDENTIAL_KEYS = re.compile(r"(pass(word|wd)?|secret|token|private_key|api_key|access_key|client_secret|"
                             r"keyfile_json|key)$", re.I)
_ENV_VAR_CALL = re.compile(r"^\s*\{\{\s*env_var\(\s*['\"][A-Za-z_][A-Za-z0-9_]*['\"]\s*\)\s*\}\}\s*$")


def literal_credentials(profile: Any, path: str = "") -> list[str]:
    """Paths (`lead_scoring.outputs.duckdb.password`) of credential keys in a parsed profiles.yml whose value
    is not exactly `{{ env_var('NAME') }}` (no default: a default would be a committed secret)."""
    out: list[str] = []
    if isinstance(profile, Mapping):
        for key, value in profile.items():
            here = f"{path}.{key}" if path else str(key)
            if CREDENTIAL_KEYS.search(str(key)) and not isinstance(value, (Mapping, list)):
                if value is not None and not _ENV_VAR_CALL.match(str(value)):
                    out.append(here)
            else:
                out += literal_credentials(value, here)
    elif isinstance(profile, list):
        for i, item in enumerate(profile):
            out += literal_credentials(item, f"{path}[{i}]")
    return out
