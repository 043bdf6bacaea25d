"""The `course` front door: version and verb listing."""

from __future__ import annotations

from importlib.metadata import version

from click.testing import CliRunner

from coursekit.cli import VERBS, cli


def test_version_names_the_installed_kit() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"course {version('zero-to-llm-kit')}"


def test_help_lists_every_verb() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    missing = [verb for verb in VERBS if verb not in result.output]
    assert not missing, missing
