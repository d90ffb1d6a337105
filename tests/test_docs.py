"""Every command has help text and is documented in the README; --help stays light."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from graphrec.cli import cli
from graphrec.paths import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "graphrec") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


COMMANDS = _commands(cli)


def test_the_cli_has_the_commands_the_readme_promises():
    names = {path for path, _ in COMMANDS}
    for expected in (
        "graphrec neo4j start",
        "graphrec load",
        "graphrec train",
        "graphrec recommend",
        "graphrec evaluate",
        "graphrec stats",
    ):
        assert expected in names


@pytest.mark.parametrize("path,command", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help_and_is_in_readme(path, command):
    assert (command.help or "").strip(), f"{path} has no help text"
    assert f"`{path}" in README or f"{path} " in README, f"{path} is not in README.md"
    result = CliRunner().invoke(cli, [*path.split()[1:], "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys; from graphrec.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'pandas', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
