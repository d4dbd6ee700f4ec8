"""The build graph stays lean and every invariant in it still bites (docs/testing.md, "The build graph").

- A production `dbt build` (models, seeds, snapshots, data tests, on-run hooks; no unit tests) has at most
  NODE_BUDGET nodes: the plain per-column tests of a model are one `invariants` test (tests/generic/invariants.sql).
- Every invariant those tests declare fails on a bad row: in a copy of the session warehouse, a violating row for
  one declared invariant at a time is written into its model, and the test's compiled SQL must name that invariant;
  on the untampered copy it returns no row. Nulls pass or are grouped as in the tests it replaced.
"""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import AS_OF, PROJECT_ROOT, assert_dbt_ok, copy_project, run_dbt

NODE_BUDGET = 350

# Invariants no mechanical violation is found for, with the reason (model, label): reason. Keep it short.
CANNOT_VIOLATE: dict[tuple[str, str], str] = {}


def production_nodes(manifest: dict) -> Counter:
    """The nodes a production `dbt build` runs, by kind (unit tests are left out, as `make build` does)."""
    kinds = Counter()
    for node in manifest["nodes"].values():
        kind = node["resource_type"]
        if kind == "test":
            kind = "data test: " + ((node.get("test_metadata") or {}).get("name") or "singular")
        if kind in ("model", "seed", "snapshot", "operation") or kind.startswith("data test"):
            kinds[kind] += 1
    return kinds


def test_a_production_build_stays_within_the_node_budget(tmp_path):
    proc = run_dbt(PROJECT_ROOT, tmp_path / "parse.duckdb", "parse", target_path=tmp_path / "target",
                   log_path=tmp_path / "logs")
    assert_dbt_ok(proc, "dbt parse")
    kinds = production_nodes(json.loads((tmp_path / "target" / "manifest.json").read_text()))
    total = sum(kinds.values())
    by_kind = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
    print(f"production build: {total} nodes ({by_kind})")
    assert total <= NODE_BUDGET, f"{total} nodes > {NODE_BUDGET}: {by_kind}"
    # the plain per-column tests are folded into the models' invariants tests
    assert kinds["data test: invariants"] > 50, by_kind
    for folded in ("not_null", "accepted_range", "accepted_values", "expression_is_true", "unique",
                   "unique_combination_of_columns"):
        assert kinds[f"data test: {folded}"] <= 10, (folded, by_kind)


def invariant_labels(kwargs: dict) -> list[str]:
    """The `invariant` values the test returns for its declared invariants (as tests/generic/invariants.sql)."""
    labels = [f"not_null({c})" for c in kwargs.get("not_null") or []]
    labels += [f"unique({k if isinstance(k, str) else ', '.join(k)})" for k in kwargs.get("unique") or []]
    labels += [f"accepted_range({c})" for c in kwargs.get("accepted_range") or {}]
    labels += [f"accepted_values({c})" for c in kwargs.get("accepted_values") or {}]
    labels += [f"expression({' '.join(e.split())})" for e in kwargs.get("expressions") or []]
    return labels


def _quote(value) -> str:
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


def make_plain_tables(con, tests):
    """Every tested model's relation in the warehouse copy becomes a plain table with its rows (views and contracts
    dropped), so that rows can be written into it; all are read before any is replaced."""
    relations = sorted({(t["schema"], t["model"]) for t in tests})
    kinds = {}
    for schema, name in relations:
        kinds[schema, name] = con.execute("select table_type from information_schema.tables where table_schema = ?"
                                          " and table_name = ?", [schema, name]).fetchone()[0]
        con.execute(f"create table {schema}.inv_plain_{name} as select * from {schema}.{name}")
    for (schema, name), kind in sorted(kinds.items(), key=lambda item: item[1] != "VIEW"):
        con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} {schema}.{name}")
    for schema, name in relations:
        con.execute(f"alter table {schema}.inv_plain_{name} rename to {name}")


class Table:
    """A model's table in the warehouse copy (made plain by make_plain_tables); `scope` is the predicate of the rows
    its tests check (the latest run, macros/test_scope.sql)."""

    def __init__(self, con, schema: str, name: str, run_column: str | None):
        self.con, self.schema, self.name = con, schema, name
        self.ref = f"{schema}.{name}"
        self.columns = dict(con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?"
            " order by ordinal_position", [schema, name]).fetchall())
        self.scope = f"{run_column} = (select max({run_column}) from {self.ref})" if run_column else "1 = 1"
        self.run_column = run_column
        if not con.execute(f"select count(*) from {self.ref}").fetchone()[0]:
            self._insert_typical_row()

    def _insert_typical_row(self):
        """An empty model gets one plausible row (typed defaults), so that there is a row to copy and break."""
        values = []
        for column, data_type in self.columns.items():
            t = data_type.upper()
            if t.startswith(("VARCHAR", "TEXT")):
                values.append("'x'")
            elif t in ("BOOLEAN",):
                values.append("true")
            elif t.startswith(("TIMESTAMP", "DATE")):
                values.append(f"cast('2026-11-01' as {data_type})")
            elif re.match(r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|DOUBLE|FLOAT|REAL|DECIMAL|U)", t):
                values.append(f"cast(1 as {data_type})")
            else:
                values.append("null")
        self.con.execute(f"insert into {self.ref} values ({', '.join(values)})")

    def base_row(self, where: str = "1 = 1") -> str:
        return f"select * from {self.ref} where {self.scope} and {where} limit 1"

    def insert(self, replace: dict[str, str] | None = None, where: str = "1 = 1"):
        """A copy of a checked row (where `where` holds), with `replace` {column: sql} set."""
        star = "*" if not replace else "* replace (" + ", ".join(
            f"cast({sql} as {self.columns[c]}) as {c}" for c, sql in replace.items()) + ")"
        self.con.execute(f"insert into {self.ref} select {star} from ({self.base_row(where)}) as base")

    def fails_expression(self, expression: str, replace: dict[str, str]) -> bool:
        """Whether the checked row with `replace` set makes `expression` false or null."""
        star = "* replace (" + ", ".join(f"cast({sql} as {self.columns[c]}) as {c}" for c, sql in replace.items()) + ")"
        try:
            return bool(self.con.execute(
                f"select count(*) from (select {star} from ({self.base_row()}) as base) as candidate"
                f" where not coalesce(({expression}), false)").fetchone()[0])
        except duckdb.Error:
            return False


def expression_mutations(table: Table, expression: str):
    """Candidate mutations of a row for an expression, simplest first: its columns set to null (all, then one at a
    time), then each column set to an extreme or odd value."""
    words = set(re.findall(r"[a-z_][a-z0-9_]*", re.sub(r"'[^']*'", "", expression.lower())))
    columns = [c for c in table.columns if c in words and c != table.run_column]
    yield {c: "null" for c in columns}
    for c in columns:
        yield {c: "null"}
    odd = ["-1000000000", "1000000000", "'zz_invalid'", "true", "false", "0", "-1", "''", "repeat('x', 1000)",
           "cast('1900-01-01' as timestamp)", "cast('2999-01-01' as timestamp)"]
    for c in columns:
        for value in odd:
            yield {c: value}
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            for va in odd:
                for vb in odd:
                    yield {a: va, b: vb}


def violation_plans(table: Table, kind: str, target, options=None) -> list[list[tuple[dict | None, str]]]:
    """Ways to break the invariant, first that works wins: each a list of rows to write, (replace, where) for
    Table.insert. Only reads here (a failed statement would abort the caller's transaction)."""
    if kind == "not_null":
        return [[({target: "null"}, "1 = 1")]]
    if kind == "unique":
        if not isinstance(target, str):
            return [[(None, "1 = 1")]]
        where = f"{target} is not null"
        if table.con.execute(f"select count(*) from ({table.base_row(where)}) as b").fetchone()[0]:
            return [[(None, where)]]
        return [[({target: value}, "1 = 1"), ({target: value}, "1 = 1")] for value in ("'x'", "1")]
    if kind in ("accepted_range", "accepted_range_max"):
        step = 1 if options.get("inclusive", True) else 0
        if options.get("min_value") is not None and kind == "accepted_range":
            return [[({target: f"({options['min_value']}) - {step}"}, "1 = 1")]]
        return [[({target: f"({options['max_value']}) + {step}"}, "1 = 1")]]
    if kind == "accepted_values":
        return [[({target: value}, "1 = 1")] for value in ("'zz_not_accepted'", "-987654")]
    if kind == "expression":
        for replace in expression_mutations(table, target):
            if table.fails_expression(target, replace):
                return [[(replace, "1 = 1")]]
        return []
    raise ValueError(kind)


def failures_with(table: Table, sql: str, plans) -> set[str] | None:
    """The invariants the test's SQL finds violated once the rows of the first plan that can be written are (in a
    transaction, rolled back); None when no plan could be written."""
    con = table.con
    for plan in plans:
        con.execute("begin transaction")
        try:
            for replace, where in plan:
                table.insert(replace, where)
            return {row[0] for row in con.execute(sql).fetchall()}
        except duckdb.Error:
            continue
        finally:
            con.execute("rollback")
    return None


def scratch_copy(db: Path, tmp_path: Path) -> Path:
    """A copy of the warehouse copy to write into (same file name: the compiled SQL names the database by it)."""
    copy = tmp_path / db.name
    shutil.copy(db, copy)
    return copy


@pytest.fixture(scope="module")
def invariants_tests(warehouse, tmp_path_factory):
    """The warehouse copy, and each invariants test of the manifest with its compiled SQL."""
    root = tmp_path_factory.mktemp("invariants")
    db = root / warehouse.db_path.name  # same file name: the compiled SQL names the database by it
    shutil.copy(warehouse.db_path, db)
    target = root / "target"
    proc = run_dbt(PROJECT_ROOT, db, "compile", "--select", "test_name:invariants", vars={"as_of": AS_OF},
                   target_path=target, log_path=root / "logs")
    assert_dbt_ok(proc, "dbt compile")
    manifest = json.loads((target / "manifest.json").read_text())
    tests = []
    for node in manifest["nodes"].values():
        if (node.get("test_metadata") or {}).get("name") != "invariants":
            continue
        model = manifest["nodes"][node["attached_node"]]
        tests.append(dict(name=node["name"], model=model["name"], schema=model["schema"],
                          run_column=(model["config"].get("meta") or {}).get("latest_run_column"),
                          kwargs=node["test_metadata"]["kwargs"], sql=node["compiled_code"]))
    assert len(tests) > 50
    return db, sorted(tests, key=lambda t: t["model"])


def test_untampered_warehouse_passes_every_invariants_test(invariants_tests):
    db, tests = invariants_tests
    con = duckdb.connect(str(db), read_only=True)
    try:
        failing = {t["model"]: con.execute(t["sql"]).fetchall() for t in tests}
    finally:
        con.close()
    assert not {m: rows for m, rows in failing.items() if rows}


def planned_violations(kwargs: dict) -> list[list[tuple[str, str, object, object]]]:
    """Rounds of (label, kind, target, options), one violation per declared invariant in the first; a range with
    both bounds is broken below its minimum there and above its maximum in a second round."""
    planned = [("not_null", c, None) for c in kwargs.get("not_null") or []]
    planned += [("unique", k, None) for k in kwargs.get("unique") or []]
    planned += [("accepted_range", c, o) for c, o in (kwargs.get("accepted_range") or {}).items()]
    planned += [("accepted_values", c, v) for c, v in (kwargs.get("accepted_values") or {}).items()]
    planned += [("expression", e, None) for e in kwargs.get("expressions") or []]
    labels = invariant_labels(kwargs)
    assert len(labels) == len(planned)
    first = [(label, *p) for label, p in zip(labels, planned)]
    above = [(label, "accepted_range_max", c, o) for label, (kind, c, o) in zip(labels, planned)
             if kind == "accepted_range" and o.get("min_value") is not None and o.get("max_value") is not None]
    return [first, above] if above else [first]


def test_every_declared_invariant_fails_on_a_bad_row(invariants_tests, tmp_path):
    """For each declared invariant alone (a range with both bounds: each end), one violating row written into its
    model: the test's SQL must name that invariant among its failures (so a failure is reported under the right
    invariant, not only somewhere). Each row is rolled back before the next."""
    db, tests = invariants_tests
    con = duckdb.connect(str(scratch_copy(db, tmp_path)))
    missed, unviolable, checked = [], [], 0
    try:
        con.execute("set TimeZone = 'UTC'")
        make_plain_tables(con, tests)
        for test in tests:
            table = Table(con, test["schema"], test["model"], test["run_column"])
            for planned in planned_violations(test["kwargs"]):
                for label, kind, target, options in planned:
                    if (test["model"], label) in CANNOT_VIOLATE:
                        continue
                    failed = failures_with(table, test["sql"], violation_plans(table, kind, target, options))
                    if failed is None:
                        unviolable.append((test["model"], label))
                    elif label not in failed:
                        missed.append((test["model"], kind, label, sorted(failed)))
                    else:
                        checked += 1
    finally:
        con.close()
    print(f"{checked} violations of declared invariants written one at a time and caught, over {len(tests)} models")
    assert not unviolable, f"no violating row found for {unviolable}: add them to CANNOT_VIOLATE with a reason"
    assert not missed, missed[:10]
    assert checked >= 900


def test_nulls_are_judged_as_the_replaced_tests_judged_them(invariants_tests, tmp_path):
    """Nulls pass accepted_range, accepted_values and a single column's unique (two nulls are no duplicate), as in
    the per-column tests the invariants test replaced; a combination of columns groups nulls like values (two rows
    with the same nulls are a duplicate), as unique_combination_of_columns did."""
    db, tests = invariants_tests
    con = duckdb.connect(str(scratch_copy(db, tmp_path)))
    passed, grouped, wrong = 0, 0, []
    try:
        con.execute("set TimeZone = 'UTC'")
        make_plain_tables(con, tests)
        for test in tests:
            kwargs, ref = test["kwargs"], f"{test['schema']}.{test['model']}"
            not_null = set(kwargs.get("not_null") or [])
            may_be_null = [f"accepted_range({c})" for c in kwargs.get("accepted_range") or {} if c not in not_null]
            may_be_null += [f"accepted_values({c})" for c in kwargs.get("accepted_values") or {} if c not in not_null]
            may_be_null += [f"unique({k})" for k in kwargs.get("unique") or []
                            if isinstance(k, str) and k not in not_null]
            combos = [k for k in kwargs.get("unique") or [] if not isinstance(k, str)]
            if not may_be_null and not combos:
                continue
            con.execute(f"create table {test['schema']}.inv_backup as select * from {ref}")
            try:
                table = Table(con, test["schema"], test["model"], test["run_column"])
                for label in may_be_null:
                    column = label.split("(")[1].rstrip(")")
                    table.insert({column: "null"})
                    table.insert({column: "null"})
                for combo in combos:  # the run column stays: a row without it is outside the checked rows
                    for _ in range(2):
                        table.insert({c: "null" for c in combo if c != test["run_column"]})
                failed = {row[0] for row in con.execute(test["sql"]).fetchall()}
                wrong += [(test["model"], label) for label in may_be_null if label in failed]
                wrong += [(test["model"], f"unique({', '.join(c)}) passed") for c in combos
                          if f"unique({', '.join(c)})" not in failed]
                passed += len(may_be_null)
                grouped += len(combos)
            finally:
                con.execute(f"drop table {ref}")
                con.execute(f"alter table {test['schema']}.inv_backup rename to {test['model']}")
    finally:
        con.close()
    print(f"{passed} nullable range, values and unique invariants passed nulls; {grouped} combinations grouped them")
    assert not wrong, wrong
    assert passed > 20 and grouped > 40


@pytest.mark.parametrize("old, new, message", [
    ("fit_score: {min_value: 0, max_value: 100}", "fit_score: {min: 0, max_value: 100}",
     "invariants test on lead_scores: accepted_range of fit_score needs min_value, max_value or both"),
    ("unique: [[model_id, lead_id], lead_score_id]", "unique: [[model_id, lead_id], {lead_score_id: 1}]",
     "invariants test on lead_scores: each unique entry is a column name or a list of column names"),
    ("fit_grade: [A, B, C, D]", "fit_grade: A",
     "invariants test on lead_scores: accepted_values of fit_grade needs a non-empty list of values"),
])
def test_a_wrong_argument_stops_the_parse_naming_the_model_and_the_fix(tmp_path, old, new, message):
    project = tmp_path / "project"
    copy_project(PROJECT_ROOT, project)
    yml = project / "models" / "marts" / "_marts__models.yml"
    text = yml.read_text()
    assert old in text
    yml.write_text(text.replace(old, new, 1))
    proc = run_dbt(project, tmp_path / "parse.duckdb", "parse", target_path=tmp_path / "target",
                   log_path=tmp_path / "logs")
    assert proc.returncode != 0 and message in proc.stdout, proc.stdout[-2000:]
