"""The Dagster asset of the scoring report (``lead_scoring.report``): ``scoring_report``, group ``reporting``.

It runs after the marts it reads and after ``score_distribution_history`` (so a blocking drift ERROR stops it
too), in the ``duckdb_warehouse`` pool, opens the warehouse read-only and writes the HTML page to the path in
its run config ``out`` (default: env ``LEAD_SCORING_REPORT_PATH``, else ``warehouse/scoring_report.html``;
relative paths are resolved against the repository root).
"""

import os
from pathlib import Path

import dagster as dg

from lead_scoring.warehouse import PROJECT_ROOT
from orchestration.defs.dbt.assets import lead_scoring_dbt_assets
from orchestration.defs.monitoring.assets import score_distribution_history
from orchestration.defs.resources import LEAD_SCORES_KEY, WAREHOUSE_POOL, WarehouseResource
from lead_scoring.report import write_report

REPORT_PATH_ENV = "LEAD_SCORING_REPORT_PATH"
DEFAULT_REPORT_PATH = "warehouse/scoring_report.html"
REPORT_MART_KEYS = (LEAD_SCORES_KEY, dg.AssetKey("score_calibration"), dg.AssetKey("score_auc"),
                    dg.AssetKey("mql_threshold_calibration"), dg.AssetKey("channel_quality"),
                    dg.AssetKey("lead_funnel"), dg.AssetKey("lead_funnel_stages"), dg.AssetKey("scoring_rule_health"),
                    dg.AssetKey("scoring_band_health"))
# Read when present (the report shows a note without them): a dependency only once dbt builds them.
OPTIONAL_MART_KEYS = (dg.AssetKey("owner_performance"), dg.AssetKey("routing_sla_breach_rate"))
REPORT_DEP_KEYS = (*REPORT_MART_KEYS, *(k for k in OPTIONAL_MART_KEYS if k in lead_scoring_dbt_assets.keys))


class ReportConfig(dg.Config):
    """`out`: the HTML file to write (empty: env LEAD_SCORING_REPORT_PATH, else warehouse/scoring_report.html).
    `model_id`: the scoring model to report on (empty: 'default', else the first model)."""

    out: str = ""
    model_id: str = ""


def resolve_report_path(out: str = "") -> Path:
    path = Path(out.strip() or os.environ.get(REPORT_PATH_ENV, "").strip() or DEFAULT_REPORT_PATH)
    return path if path.is_absolute() else PROJECT_ROOT / path


@dg.asset(
    deps=[*REPORT_DEP_KEYS, score_distribution_history.key], group_name="reporting", pool=WAREHOUSE_POOL,
    kinds={"html", "python"},
    description=("The scoring report: one self-contained HTML page (plotly inline, works offline) with the score "
                 "distributions, the 4x4 matrix, conversion and lift by band and decile, AUC, the MQL threshold, "
                 "rule health, score drift over runs, channel quality, the lead funnel, and owners and SLA."),
)
def scoring_report(context: dg.AssetExecutionContext, config: ReportConfig,
                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    target = resolve_report_path(config.out)
    with warehouse.connect(read_only=True) as con:
        path, page, data = write_report(con, target, config.model_id or None)
    context.log.info("wrote %s with %s charts", path, len(page.charts))
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "chart count": len(page.charts),
        "charts": ", ".join(page.charts),
        "model_id": data.model_id,
        "as_of": str(data.overview["as_of"]),
        "size (bytes)": path.stat().st_size,
    })

