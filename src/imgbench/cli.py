"""`python -m imgbench` (or `imgbench`): commands for result archives outside the pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imgbench import result_archive
from imgbench.errors import ImgbenchError


def _verify(arguments: argparse.Namespace) -> int:
    problems = result_archive.verify(arguments.archive)
    for problem in problems:
        print(f"{arguments.archive}: {problem}")
    if not problems:
        print(f"{arguments.archive}: intact (every file matches its manifest and provenance)")
    return 1 if problems else 0


def _compare(arguments: argparse.Namespace) -> int:
    print(result_archive.compare(arguments.archive_a, arguments.archive_b))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="imgbench", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify-archive",
        help="check an archive against its manifest and provenance; exit 1 on any difference",
    )
    verify.add_argument("archive", type=Path)
    verify.set_defaults(run=_verify)
    compare = commands.add_parser(
        "compare",
        help="each cell of two archived runs: faster, slower or within noise; then what differs "
        "between the runs",
    )
    compare.add_argument("archive_a", type=Path)
    compare.add_argument("archive_b", type=Path)
    compare.set_defaults(run=_compare)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        return arguments.run(arguments)
    except ImgbenchError as error:
        print(f"imgbench: {error}", file=sys.stderr)
        return 2
