"""Compare what two warehouses built from the same raw data: every row of a relation, column by column.

Used by the engine tests (PostgreSQL and Spark against DuckDB). Rows are matched on the relation's key
columns; text, booleans, dates and timestamps must be equal, numbers within an absolute tolerance (engines
add floating-point terms in different orders). Run-specific columns (invocation ids, load instants) are
left out by the caller.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass, field


def normalise(value):
    """A value in one comparable form: Decimal and int as float, date-times without time zone, text as is."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def values_match(left, right, tolerance: float) -> bool:
    left, right = normalise(left), normalise(right)
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return abs(left - right) <= tolerance
    return left == right


@dataclass
class RelationDiff:
    relation: str
    left_rows: int
    right_rows: int
    only_left: list = field(default_factory=list)
    only_right: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    max_abs_numeric_diff: float = 0.0

    @property
    def equal(self) -> bool:
        return not (self.only_left or self.only_right or self.mismatches)

    def summary(self, limit: int = 5) -> str:
        parts = [f"{self.relation}: {self.left_rows} vs {self.right_rows} rows"]
        if self.only_left:
            parts.append(f"{len(self.only_left)} keys only on the left, e.g. {self.only_left[:limit]}")
        if self.only_right:
            parts.append(f"{len(self.only_right)} keys only on the right, e.g. {self.only_right[:limit]}")
        if self.mismatches:
            parts.append(f"{len(self.mismatches)} differing values, e.g. {self.mismatches[:limit]}")
        return "; ".join(parts)


def compare_rows(
    relation: str,
    columns: list[str],
    left: list[tuple],
    right: list[tuple],
    key: list[str],
    tolerance: float = 1e-6,
) -> RelationDiff:
    """Match rows on `key` (which must be unique on both sides) and compare every other column."""
    key_index = [columns.index(name) for name in key]

    def keyed(rows: list[tuple], side: str) -> dict:
        out: dict = {}
        for row in rows:
            row_key = tuple(normalise(row[i]) for i in key_index)
            if row_key in out:
                raise AssertionError(f"{relation}: key {key} = {row_key} is not unique on the {side} side")
            out[row_key] = row
        return out

    left_by_key, right_by_key = keyed(left, "left"), keyed(right, "right")
    diff = RelationDiff(relation, len(left), len(right))
    diff.only_left = sorted(set(left_by_key) - set(right_by_key), key=repr)
    diff.only_right = sorted(set(right_by_key) - set(left_by_key), key=repr)
    for row_key in sorted(set(left_by_key) & set(right_by_key), key=repr):
        left_row, right_row = left_by_key[row_key], right_by_key[row_key]
        for i, name in enumerate(columns):
            a, b = normalise(left_row[i]), normalise(right_row[i])
            if isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) or math.isnan(b)):
                diff.max_abs_numeric_diff = max(diff.max_abs_numeric_diff, abs(a - b))
            if not values_match(a, b, tolerance):
                diff.mismatches.append((row_key, name, a, b))
    return diff


def mart_keys(manifest: dict) -> dict[str, list[str]]:
    """Per mart, the shortest key its tests declare: unique / unique_combination_of_columns tests, or the `unique`
    argument of its invariants test (a column or a list of columns, tests/generic/invariants.sql)."""
    keys: dict[str, list[list[str]]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        model = (node.get("attached_node") or "").split(".")[-1]
        if node["resource_type"] != "test" or not model:
            continue
        if meta.get("name") == "unique" and node.get("column_name"):
            keys.setdefault(model, []).append([node["column_name"]])
        elif meta.get("name") == "unique_combination_of_columns":
            keys.setdefault(model, []).append(list(meta["kwargs"]["combination_of_columns"]))
        elif meta.get("name") == "invariants":
            for key in meta["kwargs"].get("unique") or []:
                keys.setdefault(model, []).append([key] if isinstance(key, str) else list(key))
    return {model: min(candidates, key=len) for model, candidates in keys.items()}


SCORE_COLUMNS = ("lead_score", "fit_score", "engagement_score")


def export_file_rows(files: dict[str, str]) -> dict[str, list[dict]]:
    """Each CRM export file's rows (by format), read by DuckDB's readers, sorted by key, values as text."""
    import duckdb

    readers = {"csv": "read_csv('{}', header=true, all_varchar=true)",
               "jsonl": "read_json('{}', format='newline_delimited')", "parquet": "read_parquet('{}')"}
    out = {}
    con = duckdb.connect()
    try:
        for ext, path in files.items():
            cur = con.execute(f"select * from {readers[ext].format(path)} order by scoring_model_id, crm_external_id")
            names = [d[0] for d in cur.description]
            out[ext] = [dict(zip(names, (None if v is None else str(v) for v in row))) for row in cur.fetchall()]
    finally:
        con.close()
    return out


def assert_same_export_rows(got: list[dict], expected: list[dict], tolerance: float) -> None:
    """Two engines' export rows agree: same rows and columns, scores within the tolerance, the rest equal."""
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected):
        assert a.keys() == b.keys()
        for column in a:
            if column in SCORE_COLUMNS and a[column] is not None and b[column] is not None:
                assert abs(float(a[column]) - float(b[column])) <= tolerance, (column, a, b)
            else:
                assert a[column] == b[column], (column, a, b)
