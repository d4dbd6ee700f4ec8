"""The dbt project as Dagster assets: project, translator, the build, its resource, jobs, schedules, sensors."""
