"""docs/cli.md is the app's own --help, rendered: a command or option changed without
regenerating it (`python -m tests.cli_reference`) fails here, so the reference cannot drift."""

from surveil.errors import MEANINGS, ExitCode
from tests.cli_reference import README, REFERENCE, readme_with_exit_codes, render


def test_cli_reference_matches_the_app() -> None:
    committed = REFERENCE.read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/cli.md differs from the app's help: run `python -m tests.cli_reference` and commit it"
    )


def test_cli_reference_covers_every_command() -> None:
    from surveil.cli import app

    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
    text = render()
    for name in names:
        assert f"## `surveil {name}`" in text


def test_readme_exit_codes_are_the_enums() -> None:
    readme = README.read_text(encoding="utf-8")
    assert readme == readme_with_exit_codes(readme), (
        "README.md's exit-code table differs from surveil/errors.py: run "
        "`python -m tests.cli_reference` and commit it"
    )


def test_every_exit_code_has_a_meaning() -> None:
    assert set(MEANINGS) == set(ExitCode)
