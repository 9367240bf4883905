"""User and host text prints exactly as written: rich never reads it as markup.

Three nets: `lit()` itself, for any text in any position of a markup string (hypothesis);
every table and line builder rendered with hostile strings; and a lint over swarmctl's
source that fails when text is put into a markup string or a table cell without `lit()`.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmctl import console
from swarmctl.console import lit, one_line, visible

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ["[/x]", "[bold]", "[/bold]", "[link=x]", "[link=x]y[/link]", "[/]", "a\\",
           "a\\\\", "\\[bold]", ":smile:", "x\x1b[31my", "tab\there", "new\nline",
           "\u202eevil", "[red]m1[/red]", "[b", "]"]


def render(markup: object, width: int = 100_000) -> str:
    con = console.make(file=io.StringIO(), width=width, color_system=None)
    con.print(markup, soft_wrap=True)
    return con.file.getvalue()


# --------------------------------------------------------------------------- lit()

TEMPLATES = ["{}", "[red]{}[/]", "[bold]{}[/bold] and {}", "{}[dim]z[/dim]", "[dim]{}: [/]",
             "[link=https://example.invalid]{}[/link]", "x{}{}y", "{}\\", "[b]{}[/b]{}"]
TAGS = re.compile(r"\[/?(red|bold|dim|b|link(=https://example\.invalid)?)?\]")


def _plain(template: str) -> str:
    return TAGS.sub("", template)


text = st.text(alphabet=st.characters(exclude_categories=()) | st.sampled_from("[]/\\:@#=ab "),
               max_size=30)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text, st.sampled_from(TEMPLATES))
def test_lit_text_prints_as_written_anywhere_in_markup(value, template):
    n = template.count("{}")
    markup = template.format(*[lit(value)] * n)
    assert render(markup) == _plain(template).format(*[visible(value)] * n) + "\n"


def test_visible_shows_control_characters_as_escapes():
    assert visible("a\nb\tc\x1b\x00\u202e\ud800") == "a\\nb\\tc\\x1b\\x00\\u202e\\ud800"
    assert visible("plain é ü 名前 [x]") == "plain é ü 名前 [x]"


def test_one_line_flattens_and_never_cuts_a_word():
    msg = ("Error response from daemon: [/x] rejected\n  No such image: my-web:v9\r\n"
           + "word " * 200)
    line = one_line(msg, 120)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("Error response from daemon: [/x] rejected No such image: my-web:v9")
    kept = line.split(" … ")[0]
    assert kept.split()[10:] == ["word"] * len(kept.split()[10:])  # the last one is whole
    assert re.search(r" … \(\d+ more characters\)$", line)
    assert one_line("short\nmessage") == "short message"
    huge = "x" * 1000  # one word longer than the limit: cut, and said so
    assert one_line(huge, 100).startswith("x" * 100 + " … (900 more")


# --------------------------------------------------------------------------- builders

@pytest.mark.parametrize("bad", HOSTILE)
def test_node_and_service_tables_print_hostile_text(bad):
    from swarmctl.cli import report
    from swarmctl.models.cluster import Node, ServiceStatus

    node = Node(id="x", hostname=bad, role=bad, status=bad, availability=bad,
                manager_status=bad, engine=bad, address=bad, labels={})
    out = render(report.nodes_table([node]))
    assert out.count(visible(bad)) == 7, out
    svc = ServiceStatus(name=bad, mode=bad, running=1, desired=2, image=bad, ports=[bad],
                        update_state=bad)
    out = render(report.services_table([svc]))
    assert out.count(visible(bad)) == 5, out


@pytest.mark.parametrize("bad", HOSTILE)
def test_service_changes_and_the_services_plan_print_hostile_text(bad):
    from swarmctl.cli import report
    from swarmctl.ops.services import ServicesPlan

    change = {"kind": bad, "name": bad, "action": bad, "fields": [bad]}
    assert render(report.change_markup(change)).count(visible(bad)) == 4
    splan = ServicesPlan(changes=[change], undeclared=[bad], stacks=[bad],
                         undeclared_objects={"network": [bad]})
    con = console.make(file=io.StringIO(), width=100_000, color_system=None)
    report.print_services_plan(con, splan)
    out = con.file.getvalue()
    assert out.count(visible(bad)) == 7, out  # 4 cells, 2 kept, 1 stack
    con = console.make(file=io.StringIO(), width=100_000, color_system=None)
    report.print_services_plan(con, ServicesPlan(unavailable=bad))
    assert visible(bad) in con.file.getvalue()


@pytest.mark.parametrize("bad", HOSTILE)
def test_lab_table_prints_hostile_text(bad):
    from swarmctl.cli.lab import lab_table
    from swarmctl.lab.lab import Lab, Node

    node = Node(name=bad, role=bad, index=1, address=bad, state=bad, container="c")
    the_lab = Lab(name=bad, distro=bad, network="n", subnet=bad, user="u",
                  key_path=Path("k"), inventory_path=Path("i"), nodes=(node,))
    out = render(lab_table(the_lab))
    assert out.count(visible(bad)) == 7, out  # title: name, distro, subnet


@pytest.mark.parametrize("bad", HOSTILE)
def test_preflight_report_prints_hostile_text(bad):
    from swarmctl.ops import checks

    report = checks.Report(hosts=[bad], verdicts=[
        checks.Verdict(bad, "ssh", "fail", f"message {bad}", f"fix {bad}")])
    con = console.make(file=io.StringIO(), width=100_000, color_system=None)
    checks.print_report(con, report)
    out = con.file.getvalue()
    assert f"{visible(bad)} ssh: message {visible(bad)} → fix {visible(bad)}" in out, out
    row = re.compile(re.escape(visible(bad)) + r" +FAIL ")
    assert any(row.match(line) for line in out.splitlines()), out  # the table's row


@pytest.mark.parametrize("bad", HOSTILE)
def test_progress_lines_print_hostile_text(bad):
    from swarmctl.ansible.progress import Progress

    con = console.make(file=io.StringIO(), width=100_000, color_system=None)
    progress = Progress(con, bad)
    assert visible(bad) in render(progress._line_markup())
    progress({"event": "playbook_on_play_start", "event_data": {"play": f"play {bad}"}})
    progress({"event": "playbook_on_task_start", "event_data": {"task": f"task {bad}"}})
    progress({"event": "runner_on_failed", "event_data": {"host": bad}})
    assert con.file.getvalue() == f"▶ play {visible(bad)}\n  ✗ {visible(bad)}: task {visible(bad)}\n"
    assert render(progress._line_markup()).startswith(
        f"play {visible(bad)}: task {visible(bad)} (1/1 hosts)")


def test_a_host_error_with_newlines_and_brackets_becomes_one_line():
    from swarmctl.ansible.events import message

    msg = message({"msg": "failed to start:\n[/x] Error response from daemon:\n"
                                   "  No such image: [bold]web:v9\n" + "detail " * 100})
    assert "\n" not in msg
    assert msg.startswith("failed to start: [/x] Error response from daemon: No such image: "
                          "[bold]web:v9 detail")
    assert msg.endswith("more characters)")
    assert render(f"[red]error:[/] {lit(msg)}") == f"error: {msg}\n"


# --------------------------------------------------------------------------- the lint

# Calls whose arguments rich renders as markup; for the names other objects use too
# (dict.update, hashlib's update, ops' status), only their f-strings are checked.
RENDERING = {"print", "log", "add_row", "rule"}
AMBIGUOUS = {"status", "update"}
MARKUP_TAG = re.compile(r"\[/?[a-z#@][^\[\]]*\]|\[/\]")
NUMERIC_SPEC = re.compile(r"^[^a-zA-Z]*[dfgen%]$")


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    return ""


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else ""


def _safe_value(node: ast.AST, spec: ast.AST | None = None) -> bool:
    """An interpolated value that cannot carry markup: lit(...), len(...), a number
    format, a constant table (ALL_CAPS[...]), or a name that says it holds markup."""
    if spec is not None:
        parts = [v.value for v in getattr(spec, "values", []) if isinstance(v, ast.Constant)]
        if NUMERIC_SPEC.match("".join(parts)):
            return True
    if isinstance(node, ast.Call) and _name(node.func) in ("lit", "len"):
        return True
    if isinstance(node, ast.Subscript) and _root(node).lstrip("_").isupper():
        return True
    name = _name(node)
    return name.endswith(("markup", "style", "table")) or name in ("style", "table")


def _safe_arg(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(_safe_value(v.value, v.format_spec) for v in node.values
                   if isinstance(v, ast.FormattedValue))
    if isinstance(node, ast.BinOp):
        return _safe_arg(node.left) and _safe_arg(node.right)
    if isinstance(node, ast.BoolOp):
        return all(_safe_arg(v) for v in node.values)
    if isinstance(node, ast.IfExp):
        return _safe_arg(node.body) and _safe_arg(node.orelse)
    if isinstance(node, ast.Starred):
        return _safe_arg(node.value)
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return _safe_arg(node.elt)
    if isinstance(node, ast.Call) and _name(node.func) == "join" \
            and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Constant):
        return all(_safe_arg(a) for a in node.args)
    return _safe_value(node)


def unescaped(source: str, filename: str = "<src>") -> list[str]:
    """Places where text reaches rich markup without lit(): 'file:line: code'."""
    tree = ast.parse(source)
    found = []

    def flag(node: ast.AST) -> None:
        found.append(f"{filename}:{node.lineno}: {ast.get_source_segment(source, node)}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            args: list[ast.AST] = []
            if isinstance(node.func, ast.Attribute) and node.func.attr in RENDERING:
                args = list(node.args)
            if isinstance(node.func, ast.Attribute) and node.func.attr in AMBIGUOUS:
                args = [a for a in node.args if isinstance(a, ast.JoinedStr | ast.BinOp)
                        or _name(a).startswith("_line")]
            if _name(node.func) == "Table":
                args = [k.value for k in node.keywords if k.arg in ("title", "caption")]
            for arg in args:
                if not _safe_arg(arg):
                    flag(arg)
        elif isinstance(node, ast.JoinedStr):  # markup built anywhere, e.g. returned
            literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if MARKUP_TAG.search(literal) and not _safe_arg(node):
                flag(node)
    return sorted(set(found))


def test_the_lint_catches_what_it_should():
    bad = ('con.print(f"[red]✗ {host}[/]: {task}")\n'
           'table.add_row(n.hostname, lit(n.role))\n'
           'Table(title=f"lab {name}")\n'
           'line = f"[bold]{play}[/]"\n'
           'err.print(message)\n'
           'spinner.update(f"lab {name}: {text}")\n')
    assert len(unescaped(bad)) == 6, unescaped(bad)
    good = ('con.print(f"[red]✗ {lit(host)}[/]: {lit(task)} in {elapsed:.1f}s")\n'
            'table.add_row(lit(n.hostname), _STYLE[n.status], status_markup)\n'
            'con.print(table)\n'
            'con.print(nodes_table(nodes))\n'
            'con.print(f"{len(hosts)} hosts, {count:d} changes")\n'
            'table.add_row("\\n".join(lit(p) for p in ports) or "-")\n'
            'x = f"[{style}]{lit(text)}[/]"\n')
    assert unescaped(good) == []


def test_swarmctl_never_renders_text_without_lit():
    found = []
    for path in sorted((ROOT / "swarmctl").rglob("*.py")):
        found += unescaped(path.read_text(), str(path.relative_to(ROOT)))
    assert not found, "wrap these in swarmctl.console.lit():\n" + "\n".join(found)
