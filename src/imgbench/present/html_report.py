"""The HTML report job: Snakemake's own self-contained report of the finished run (every figure
and table with its caption, and Snakemake's record of every job), opening with the tutorial's
claims.

Snakemake renders the report's first page from `workflow/report/workflow.rst` with the run's
config and nothing else, so the claims table reaches it as a config key, `report_claims`, in a
config file of this job's own beside the run's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from imgbench.atomic_files import atomic_path
from imgbench.errors import ImgbenchError
from imgbench.tables import read_table

CLAIM_FIELDS = ("claim", "tutorial_says", "verdict", "measured", "figure")


def claims_config(claims: Path) -> dict[str, object]:
    """The claims table as the config key the report's first page reads."""
    rows = read_table(claims).fillna("")
    return {
        "report_claims": [
            {field: row[field] for field in CLAIM_FIELDS} for _, row in rows.iterrows()
        ]
    }


def write_html_report(snakefile: Path, effective_config: Path, claims: Path, report: Path) -> None:
    with atomic_path(report) as partial:
        html = partial.with_suffix(".html")
        claims_file = partial.with_suffix(".claims.yaml")
        try:
            claims_file.write_text(yaml.safe_dump(claims_config(claims), allow_unicode=True))
            command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
            command += ["--configfile", str(effective_config), str(claims_file)]
            command += ["--nolock", "--report", str(html)]
            completed = subprocess.run(command, capture_output=True, text=True)
            print(completed.stdout + completed.stderr)
            if completed.returncode != 0 or not html.is_file():
                raise ImgbenchError(
                    f"`{' '.join(command)}` failed; its output is in this job's log"
                )
            html.replace(partial)
        finally:
            claims_file.unlink(missing_ok=True)
