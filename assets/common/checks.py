"""Asset-check results in one shape: severity, failing rate in the description, up to 10 examples."""

from __future__ import annotations

import dagster as dg
import polars as pl

from assets.common.warehouse import markdown_preview


def check_result(
    *,
    what: str,
    failing: pl.DataFrame,
    total: int,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    tolerance: int = 0,
    extra: dict[str, object] | None = None,
) -> dg.AssetCheckResult:
    """Pass when at most `tolerance` rows fail; describe the failing share and show examples."""
    failed = failing.height
    rate = failed / total if total else 0.0
    return dg.AssetCheckResult(
        passed=failed <= tolerance,
        severity=severity,
        description=f"{what}: {failed:,} of {total:,} failing ({rate:.2%})",
        metadata={
            "failing_rows": dg.MetadataValue.int(failed),
            "checked_rows": dg.MetadataValue.int(total),
            "failing_rate": dg.MetadataValue.float(rate),
            "examples": dg.MetadataValue.md(markdown_preview(failing, 10) if failed else "_none_"),
            **(extra or {}),
        },
    )
