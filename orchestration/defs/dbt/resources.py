"""The dbt CLI resource of the code location (key ``dbt``).

The dbt subprocess inherits os.environ, hence LEAD_SCORING_DUCKDB_PATH and the other LEAD_SCORING_* settings.
"""
import dagster as dg
from dagster_dbt import DbtCliResource

from lead_scoring.dbt_cli import dbt_executable
from orchestration.defs.dbt.project import dbt_project

dbt_resource = DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"dbt": dbt_resource})
