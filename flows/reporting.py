"""Prefect artifacts for operators: batch summaries, validation results, geocode precision."""
from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.settings import Settings


def _key(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:60]


def publish_batch_artifacts(source: str, summaries: list[dict], settings: Settings) -> None:
    """Create the run's artifacts: one summary table, validation and quarantine tables."""
    rows = [{
        "batch": s.get("origin") or s["batch_id"], "status": s["status"], "rows_read": s.get("rows_read", 0),
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
    docs = settings.validation_dir / "index.html"
    create_markdown_artifact(key=_key(f"{source}-links"), markdown=(
        f"### {source}\n- Warehouse: tables `fct_incidents`, `quarantine_incidents`, `load_audit`\n"
        f"- Validation report: `{docs}`\n- Report: `{settings.reports_dir / 'index.html'}`\n"))
