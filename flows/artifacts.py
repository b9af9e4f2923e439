"""Prefect artifacts for operators: batch summaries, validation results, geocode precision."""
from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from flows.settings import Settings
from tasks.ingest.data_docs import build_summary_docs


def _key(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:60]


def publish_batch_artifacts(source: str, summaries: list[dict], settings: Settings) -> None:
    """Create the run's artifacts: one summary table, validation and quarantine tables."""
    rows = [{
        "batch": s.get("origin") or s["batch_id"], "table": s.get("table", ""), "status": s["status"],
        "rows_read": s.get("rows_read", 0),
        "rows_loaded": s.get("rows_loaded", 0), "new": s.get("rows_inserted", 0), "updated": s.get("rows_updated", 0),
        "quarantined": s.get("rows_quarantined", 0),
        "geocode_precision": ", ".join(f"{k}={v}" for k, v in sorted(s.get("geocode_precision", {}).items())),
        "message": s.get("message", ""),
    } for s in summaries]
    create_table_artifact(key=_key(f"{source}-batches"), table=rows,
                          description=f"Batches of {source}: rows read / loaded / quarantined")
    validation = [{"batch": s.get("origin") or s["batch_id"], **v} for s in summaries for v in s.get("validation", [])]
    if validation:
        create_table_artifact(key=_key(f"{source}-validation"), table=validation,
                              description=f"Great Expectations results for {source} (rows checked, failures)")
    reasons = [{"batch": s.get("origin") or s["batch_id"], "table": f"quarantine_{s.get('entity', '')}", "reason": r,
                "rows": n} for s in summaries for r, n in sorted(s.get("quarantine_reasons", {}).items())]
    if reasons:
        create_table_artifact(key=_key(f"{source}-quarantine"), table=reasons,
                              description=f"Rows of {source} set aside in quarantine, by reason")
    docs = build_summary_docs(settings.validation_dir, summaries, run_name=flow_run.get_name() or source)
    tables = sorted({s["table"] for s in summaries if s.get("table")})
    listed = ", ".join(f"`{t}`" for t in tables) or "none"
    create_markdown_artifact(key=_key(f"{source}-links"), markdown=(
        f"### {source}\n- Warehouse tables loaded: {listed} (quarantine in `quarantine_*`, audit in `load_audit`)\n"
        f"- Validation report (GX Data Docs): [{docs}](file://{docs})\n"
        f"- Analyst report: [{settings.reports_dir / 'index.html'}](file://{settings.reports_dir / 'index.html'})\n"))
