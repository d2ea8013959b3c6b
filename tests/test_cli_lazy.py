"""The `callcenter` group imports a command's module only when the command is used: its listing of
the commands (`callcenter --help`) comes from the summaries in callcenter/cli.py, which must be the
commands' own."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from callcenter.cli import COMMANDS, cli, load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_commands_own_help(name):
    command = load_command(name)
    assert command.name == name
    assert COMMANDS[name][2] == inspect.cleandoc(command.help or "").partition("\n\n")[0]


@pytest.mark.parametrize("width", [50, 80, 200])
def test_the_listing_is_what_the_loaded_commands_would_print(width):
    eager = click.Group("callcenter", commands={name: load_command(name) for name in COMMANDS},
                        params=cli.params, help=cli.help, callback=cli.callback)
    lazy = CliRunner().invoke(cli, ["--help"], prog_name="callcenter", terminal_width=width)
    loaded = CliRunner().invoke(eager, ["--help"], prog_name="callcenter", terminal_width=width)
    assert lazy.exit_code == 0 and lazy.output == loaded.output
    assert "search-reindex" in lazy.output and "mail-ingest" in lazy.output


def test_help_imports_no_command_module_nor_the_settings():
    code = ("import sys\nsys.argv = ['callcenter', '--help']\nfrom callcenter.entry import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "loaded = sorted(m for m in sys.modules if m.startswith(('callcenter.commands', 'callcenter.config',"
            " 'sqlalchemy', 'logging')))\nprint('LOADED', loaded)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout
    assert "Commands:" in proc.stdout


def test_a_subcommand_loads_only_its_module(database_url):
    code = ("import sys\nsys.argv = ['callcenter', 'sla', '--help']\nfrom callcenter.entry import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in sys.modules if m.startswith('callcenter.commands.')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CALLCENTER_DATABASE_URL": database_url})
    assert proc.returncode == 0, proc.stderr
    assert "LOADED ['callcenter.commands.context', 'callcenter.commands.sla']" in proc.stdout
    assert "due" in proc.stdout
