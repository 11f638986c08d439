"""The CLI reference in docs/cli.md, generated from the app itself so that it cannot drift,
and the README's exit-code table, generated from surveil.errors (the one place exit codes
are written).

`python -m tests.cli_reference` rewrites both; tests/test_cli_reference.py (run by .ci/run)
fails when a committed file differs from what the app says.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer
import typer.main
from typer.cli import get_docs_for_click

from surveil.cli import app
from surveil.errors import MEANINGS, ExitCode

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
# The README's exit-code table sits between these two markers.
EXIT_CODES = re.compile(r"(<!-- exit-codes:[^\n]*-->\n)(.*?)(\n<!-- /exit-codes -->)", re.DOTALL)
PREAMBLE = (
    "<!-- Generated from the app by `python -m tests.cli_reference`; do not edit by hand. -->\n\n"
)


def render() -> str:
    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="surveil", obj={})
    docs = get_docs_for_click(obj=command, ctx=ctx, name="surveil", title="surveil CLI reference")
    return PREAMBLE + docs.strip() + "\n"


def exit_code_table() -> str:
    rows = [f"| {code.value} | {MEANINGS[code]} |" for code in ExitCode]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


def readme_with_exit_codes(readme: str) -> str:
    """The README with its exit-code table replaced by the one generated from the enum."""
    if not EXIT_CODES.search(readme):
        raise SystemExit("README.md has no <!-- exit-codes: --> block")
    return EXIT_CODES.sub(lambda m: m[1] + exit_code_table() + m[3], readme, count=1)


if __name__ == "__main__":
    REFERENCE.write_text(render(), encoding="utf-8")
    README.write_text(readme_with_exit_codes(README.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stdout.write(f"wrote {REFERENCE} and the exit codes in {README}\n")
