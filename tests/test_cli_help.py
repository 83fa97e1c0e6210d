"""`spoofscan --help` and every command's --help: all of the help text shown, wrapped to the terminal's width."""
import re

import pytest
import typer
from typer.testing import CliRunner

from spoofscan.cli import app

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)


def flat(text: str) -> str:
    """Help text as a reader sees it: markup (backticks, escapes) and the table's borders gone, one space a gap."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", re.sub(r"[`\\]", "", text)).split())


def show_help(*args: str, columns: int) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(columns), "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_word_of_a_commands_help_is_shown(name):
    command = GROUP.commands[name]
    shown = flat(show_help(name, columns=2000))
    assert flat(command.help) in shown  # the description, all of its paragraphs
    for param in command.params:
        if getattr(param, "help", None):
            assert flat(param.help) in shown, f"{name} --{param.name}: help text lost"


def test_the_command_list_flows_each_summary_at_80_columns():
    """Each summary wraps where the column ends, not where its docstring's source lines end."""
    output = show_help(columns=80)
    panel = [line for line in output[output.index("Commands"):].splitlines() if line.startswith("│")]
    summaries: dict[str, list[str]] = {}
    for line in panel:
        cells = line.strip("│").rstrip()
        if cells[1:2] != " ":  # a command's name starts the row
            name, text = cells.split(maxsplit=1)
            summaries[name] = [text.strip()]
        else:
            summaries[name].append(cells.strip())
    assert sorted(summaries) == COMMANDS
    width = max(len(line) for lines in summaries.values() for line in lines)
    for name, lines in summaries.items():
        assert " ".join(lines) == flat(GROUP.commands[name].help.split("\n\n")[0])
        for line, following in zip(lines, lines[1:]):
            assert len(line) + 1 + len(following.split()[0]) > width, f"{name}: broken early after {line!r}"
