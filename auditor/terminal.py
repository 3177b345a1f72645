"""Text for a terminal: cluster and AWS text is shown, its control characters never sent.

Rich drops only a few controls (CR, BEL, BS, VT, FF) and passes ESC and the C1 controls through, and with them a
name, an annotation value or an AWS error message could clear the screen, recolour a report or hide a hyperlink
(OSC 8) in the reader's terminal, or, with a line break, forge a log line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

# Control characters but line feed and tab (a table cell or a manifest keeps its lines)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# ... and with line feed (a log or progress line is one line)
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _spelled(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: str, *, one_line: bool = False) -> str:
    """``value`` with each control character spelled out (``\\x1b``); with ``one_line`` line breaks as well."""
    return (_CONTROL_OR_NEWLINE if one_line else _CONTROL).sub(_spelled, value)


def echo_printable(line: str) -> None:
    """A line of plain text output (cost, plan-consolidation) with cluster and AWS text in it, through ``printable``."""
    click.echo(printable(line))


def say(console: Console, text: str, *, style: str | None = None, end: str = "\n", one_line: bool = False) -> None:
    """Print data (cluster or AWS text) on a rich console: no markup, no highlighting, control characters spelled."""
    console.print(printable(text, one_line=one_line), style=style, end=end, markup=False, highlight=False)
