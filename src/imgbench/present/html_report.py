"""The HTML report job: Snakemake's own self-contained report of the finished run (every figure
and table with its caption, and Snakemake's record of every job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from imgbench.atomic_files import atomic_path
from imgbench.errors import ImgbenchError


def write_html_report(snakefile: Path, effective_config: Path, report: Path) -> None:
    with atomic_path(report) as partial:
        html = partial.with_suffix(".html")
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
        command += ["--configfile", str(effective_config), "--nolock", "--report", str(html)]
        completed = subprocess.run(command, capture_output=True, text=True)
        print(completed.stdout + completed.stderr)
        if completed.returncode != 0 or not html.is_file():
            raise ImgbenchError(f"`{' '.join(command)}` failed; its output is in this job's log")
        html.replace(partial)
