"""The CLI reference in docs/cli.md, generated from the app itself so that it cannot drift.

`python -m tests.cli_reference` rewrites docs/cli.md; tests/test_cli_reference.py (run by .ci/run)
fails when the committed file differs from what the app says.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import typer.main
from typer.cli import get_docs_for_click

from surveil.cli import app

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
PREAMBLE = (
    "<!-- Generated from the app by `python -m tests.cli_reference`; do not edit by hand. -->\n\n"
)


def render() -> str:
    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="surveil", obj={})
    docs = get_docs_for_click(obj=command, ctx=ctx, name="surveil", title="surveil CLI reference")
    return PREAMBLE + docs.strip() + "\n"


if __name__ == "__main__":
    REFERENCE.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {REFERENCE}\n")
