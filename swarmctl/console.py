"""The two consoles every command prints to: results on stdout, progress and errors on
stderr. Piped output (logs, CI) gets wide lines rather than truncated table cells.

Everything printed goes through rich, which reads `[...]` as markup and `:name:` as an
emoji code. Any text that comes from a user or a host (a host, group, service, network,
secret, label, path, an error message from Docker or apt) goes through `lit()` before it
is put in a markup string or a table cell, so that it prints exactly as written:

    err.print(f"[red]✗[/] {lit(host)}: {lit(error)}")

A variable that already holds markup (escaped user text and our own tags) is named
`..._markup`; `tests/unit/test_markup_safe.py` fails on any other interpolation in a
markup string, and renders every table and line builder with hostile strings.
`one_line()` turns a message from a host (Docker, apt, ssh: newlines, long) into one line
without cutting a word in two.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from rich.console import Console
from rich.markup import escape

# Characters a terminal would act on instead of showing (newline, tab, ESC, bell,
# bidi overrides, line separators) and lone surrogates (non-UTF-8 bytes of a path or an
# argument), which cannot be written out: shown as Python escapes (\n, \x1b, \u202e).
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
_BACKSLASHES_BRACKET = re.compile(r"(\\+)\[(?![a-z#/@][^\[]*\])")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(value: object) -> str:
    """`value` as text with every invisible or control character as an escape."""
    text = str(value)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == " " or unicodedata.category(ch) not in _INVISIBLE:
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return "".join(out)


def lit(value: object) -> str:
    """User or host text, ready to sit anywhere in a rich markup string: it prints as
    written (control characters as escapes), whatever brackets or backslashes it has."""
    text = visible(value)
    body = text.rstrip("\\")
    trailing = len(text) - len(body)
    # rich drops one backslash before any "[" that does not start a tag: add it back.
    body = _BACKSLASHES_BRACKET.sub(r"\\\1[", escape(body))
    if not trailing:
        return body
    # rich reads backslashes just before a tag as escapes, so "a\\" then "[/]" would
    # lose one (and "a\\" would escape our tag): doubled and closed by an empty tag pair
    # of our own, trailing backslashes print as they are whatever follows.
    return body + "\\" * (2 * trailing) + "[b][/b]"


def one_line(text: object, limit: int = 400) -> str:
    """A message (from Docker, apt, ssh: several lines, any length) as one line of at most
    about `limit` characters, cut at a word boundary with a mark that says so."""
    flat = " ".join(visible(" ".join(str(text).split())).split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit + 1)
    if cut < limit // 2:  # one huge word (a digest, a path): cut it, but say so
        cut = limit
    rest = len(flat) - cut
    return f"{flat[:cut].rstrip()} … ({rest} more characters)"


def make(*, stderr: bool = False, width: int | None = None, **options) -> Console:
    """A console as swarmctl uses it: no emoji codes (":x:" in a name stays ":x:")."""
    stream = sys.stderr if stderr else sys.stdout
    if width is None and not stream.isatty():
        width = 200
    return Console(stderr=stderr, width=width, emoji=False, **options)


out = make()
err = make(stderr=True)


def warn(message: str) -> None:
    """A warning line on stderr (the message is printed as written)."""
    err.print(f"[yellow]warning:[/] {lit(message)}", soft_wrap=True, highlight=False)
