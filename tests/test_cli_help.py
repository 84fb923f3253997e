"""Every command's help: an example, and nothing of its text eaten by Rich markup."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from riskdesk.cli import app

runner = CliRunner()


def _leaf_commands() -> list[tuple[tuple[str, ...], object]]:
    """Every runnable command of the `riskdesk` tree, found by walking it (not a kept list)."""
    found: list[tuple[tuple[str, ...], object]] = []

    def walk(path: tuple[str, ...], command) -> None:
        if hasattr(command, "commands"):  # a group (Typer ships its own click)
            for name, sub in command.commands.items():
                walk((*path, name), sub)
        else:
            found.append((path, command))

    walk((), typer.main.get_command(app))
    return found


COMMANDS = _leaf_commands()


def test_the_tree_is_walked():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"init", "cases list", "cases close", "outbox cancel", "collections run"} <= names


def _plain(text: str) -> str:
    """Help text as a reader sees it: box drawing and line breaks folded away."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _expected(help_text: str) -> str:
    """What an option's help must read once rendered: Rich's style tags removed, escapes undone."""
    text = re.sub(r"\[/?(bold|italic|dim|red|green|b|i)\]", "", help_text)
    return " ".join(text.replace("\\[", "[").split())


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example: riskdesk" in result.output


@pytest.mark.parametrize(
    "path", [(), *(p for p, _ in COMMANDS)], ids=lambda p: " ".join(p) or "riskdesk"
)
def test_no_option_help_loses_text_to_markup(path):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    rendered = _plain(runner.invoke(app, [*path, "--help"], env={"COLUMNS": "250"}).output)
    for param in command.params:
        help_text = getattr(param, "help", None)
        if help_text:
            # Rendered help may wrap: compare word sequences, bracketed words included.
            assert _expected(help_text) in rendered, (param.name, help_text)


@pytest.mark.parametrize(
    "args, accepted",
    [
        (["outbox", "list", "--status", "bogus"], ["pending", "awaiting_approval", "failed"]),
        (["cases", "list", "--status", "bogus"], ["open", "closed", "all"]),
        (["customers", "list", "--sort", "bogus"], ["exposure", "overdue", "name"]),
        (["collections", "policy-doc", "--format", "pdf"], ["md", "html"]),
    ],
)
def test_an_unknown_option_value_is_an_error_listing_the_accepted_ones(args, accepted, tmp_path):
    result = runner.invoke(
        app, ["--database-url", f"sqlite:///{tmp_path / 'none.db'}", *args], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2, result.output
    assert all(value in result.output for value in accepted), result.output
    assert not (tmp_path / "none.db").exists()  # refused before anything was opened
