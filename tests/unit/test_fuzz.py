"""Property-based fuzzing (hypothesis) of what users type: the spec loader, the inventory
loader and the command line.

Generated documents: random structure shaped like a spec or an inventory (right and wrong
field names, values of every type), unicode, rich markup, control characters, huge
numbers, deep nesting, anchors and aliases (shared values, bombs, self-reference), and
text-level damage (cuts, inserted bytes, duplicated lines, tabs). Whatever comes in:
- the loaders return a model or raise InputError, nothing else; a hang guard stops an
  example after HANG_GUARD seconds (the bounds of swarmctl.models.yamlfile keep every
  file far below it: the slowest example is printed);
- the CLI exits 0 (help, version) or refuses with exactly one line on stderr, exit 2, no
  traceback.

The command-line fuzz never lets a command act: every inventory it passes is one that
`inventory.load` refuses (checked before the call), every spec one that `spec.load`
refuses, every lab name an invalid one; no other path exists.

The default run is FUZZ_EXAMPLES=3000 examples in all, with the seed FUZZ_SEED=19;
a longer run:  FUZZ_EXAMPLES=50000 pytest tests/unit/test_fuzz.py -q -s
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, reject, seed, settings
from hypothesis import strategies as st

from swarmctl.errors import InputError
from swarmctl.models import inventory, spec

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3000"))
SEED = int(os.environ.get("FUZZ_SEED", "19"))
HANG_GUARD = 20  # seconds for one example: a hang, not a measure
SHARE = {"spec": 0.35, "inventory": 0.35, "cli": 0.2, "deploy": 0.1}
SLOWEST: dict[str, tuple[float, str]] = {}


def fuzz_settings(target: str):
    def wrap(test):
        test = settings(max_examples=max(10, int(EXAMPLES * SHARE[target])), deadline=None,
                        database=None, print_blob=True,
                        suppress_health_check=list(HealthCheck))(test)
        return seed(SEED)(test)
    return wrap


@contextlib.contextmanager
def hang_guard(what: str, label: str):
    def alarm(*_):
        raise AssertionError(f"{label}: one example ran for more than {HANG_GUARD}s: {what!r:.300}")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_GUARD)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        took = time.monotonic() - started
        if took > SLOWEST.get(label, (0.0, ""))[0]:
            SLOWEST[label] = (took, f"{what!r:.120}")


@pytest.fixture(scope="module", autouse=True)
def report_slowest():
    yield
    for label, (took, what) in sorted(SLOWEST.items()):
        print(f"\nfuzz {label}: slowest example {took:.2f}s: {what}")


# --------------------------------------------------------------------------- documents

HOSTILE_TEXT = ["[/x]", "[bold]", "[/bold]", "[link=x]", "a\\", "\\[b]", ":smile:",
                "x\x1b[31my", "new\nline", "\u202e", "\x00", "\ud800", "名前", "🙂", "~",
                "null", "yes", "0x1f", "1e400", "-0", ".inf", "127.0.0.1; touch /tmp/x",
                "../../etc/passwd", "*", "&a", "!!python/object:os.system", "%"]
SPEC_WORDS = ["services", "networks", "secrets", "configs", "stacks", "name", "image",
              "replicas", "mode", "publish", "published", "target", "protocol", "global",
              "host", "ingress", "update_config", "failure_action", "delay", "monitor",
              "parallelism", "env", "labels", "constraints", "preferences", "spread",
              "resources", "limits", "memory", "cpus", "healthcheck", "test", "interval",
              "restart_policy", "condition", "file", "value", "external", "subnet",
              "encrypted", "attachable", "compose", "endpoint_mode", "dnsrr", "command",
              "args", "secrets", "configs", "max_replicas_per_node", "stop_grace_period"]
INVENTORY_WORDS = ["all", "children", "hosts", "vars", "swarm_managers", "swarm_workers",
                   "ansible_host", "ansible_port", "ansible_user", "ansible_become",
                   "ansible_ssh_private_key_file", "swarm_node_labels",
                   "swarm_node_availability", "swarm_advertise_addr",
                   "swarm_advertise_network", "m1", "m2", "w1", "drain", "active"]

texts = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(HOSTILE_TEXT),
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE_TEXT), st.text(max_size=6)),
)
numbers = st.one_of(
    st.integers(-10, 70000),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 65535, 65536, 2**63, -(2**63) - 1, 10**400]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)


def documents(words: list[str]):
    keys = st.one_of(st.sampled_from(words), texts, st.integers(-3, 3), st.booleans())
    leaves = st.one_of(scalars, st.sampled_from(words))
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=5),
            # the same object twice: yaml.safe_dump writes an anchor and an alias
            children.map(lambda c: [c, c] if isinstance(c, list | dict) else c),
        ),
        max_leaves=25,
    )


def spec_shaped():
    value = documents(SPEC_WORDS)
    item = st.dictionaries(st.sampled_from(SPEC_WORDS), value, max_size=7)
    return st.dictionaries(st.sampled_from(["services", "networks", "secrets", "configs",
                                            "stacks"]) | texts,
                           st.lists(item, max_size=3) | value, max_size=4)


def inventory_shaped():
    host_vars = st.dictionaries(st.sampled_from(INVENTORY_WORDS), documents(INVENTORY_WORDS),
                                max_size=5)
    hosts = st.dictionaries(st.sampled_from(["m1", "m2", "w1", "[/x]", "a b"]) | texts,
                            host_vars | st.none(), max_size=4)
    group = st.fixed_dictionaries({}, optional={"hosts": hosts, "vars": host_vars})
    groups = st.dictionaries(st.sampled_from(["swarm_managers", "swarm_workers"]) | texts,
                             group | documents(INVENTORY_WORDS), max_size=3)
    return st.one_of(groups, st.fixed_dictionaries({"all": st.fixed_dictionaries(
        {}, optional={"children": groups, "vars": host_vars})}))


def dump(doc) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, default_flow_style=None)
    except (yaml.YAMLError, ValueError, OverflowError):  # e.g. surrogates
        return yaml.safe_dump(doc, allow_unicode=False, default_flow_style=None)


@st.composite
def damaged(draw, text: str) -> str:
    """The document's text, sometimes cut, with bytes inserted or lines repeated."""
    kind = draw(st.sampled_from(["none", "none", "cut", "insert", "repeat", "tab"]))
    if kind == "none" or not text:
        return text
    at = draw(st.integers(0, len(text)))
    if kind == "cut":
        return text[:at]
    if kind == "insert":
        return text[:at] + draw(st.sampled_from(["\t", "\x07", "[", "&a ", "*a", ": ", "- ",
                                                 "\n  ", "'", '"', "{", "!!", "\ufeff"])
                                | texts) + text[at:]
    if kind == "repeat":  # a line twice: often a duplicate key
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        return "".join([*lines[: i + 1], lines[i], *lines[i + 1:]])
    return text.replace("  ", "\t", 1)


def bombs() -> st.SearchStrategy[str]:
    """Deep nesting and alias bombs, written as text."""
    deep = st.integers(1, 3000).map(lambda n: "services: " + "[" * n + "]" * n + "\n")
    deep_block = st.integers(1, 400).map(
        lambda n: "".join(f"{' ' * i}k{i}:\n" for i in range(n)) + " " * n + "v\n")
    def laughs(levels: int, width: int) -> str:
        out = ["a0: &a0 [x]"]
        for i in range(1, levels):
            out.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
        return "\n".join(out) + f"\nservices: *a{levels - 1}\n"
    laugh = st.builds(laughs, st.integers(1, 12), st.integers(1, 12))
    self_ref = st.sampled_from(["a: &a [*a]\n", "services: &s\n  - *s\n",
                                "all: &x {children: *x}\n"])
    return st.one_of(deep, deep_block, laugh, self_ref)


def file_texts(shaped):
    return st.one_of(
        shaped.map(dump).flatmap(damaged),
        bombs(),
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    )


# --------------------------------------------------------------------------- loaders

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(path: Path, text: str | bytes) -> None:
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    path.write_bytes(text)


# Bugs the fuzz found in code another change owns, reported there (issue #15 rewrote the
# inventory loader): (exception type, file it is raised in, text of its message). Examples
# that hit one are discarded, so that the fuzz goes on finding others; test_known_bugs
# shows each.
KNOWN_BUGS: set[tuple[type, str, str]] = set()  # (exception, file, text) found, not fixed


def _known(exc: BaseException) -> bool:
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return any(isinstance(exc, kind) and frame.filename.endswith(where) and text in str(exc)
               for kind, where, text in KNOWN_BUGS)


def _loads_or_refuses(load, path: Path, text: str, label: str) -> bool:
    """True when the file loads; InputError is the only other outcome allowed."""
    _write(path, text)
    with hang_guard(text, label):
        try:
            load(path)
        except InputError as exc:
            assert isinstance(exc.message, str) and exc.message
            return False
        except Exception as exc:
            if _known(exc):
                reject()
            raise
    return True


def test_group_keys_of_mixed_types_are_one_refusal(work):
    """Found by the fuzz: sorting a group's unknown keys of mixed types crashed."""
    path = work / "known.yml"
    _write(path, "swarm_managers: {all: null, 0: null}\n")
    with pytest.raises(InputError):
        inventory.load(path)


@fuzz_settings("spec")
@given(text=file_texts(spec_shaped()))
def test_spec_loader_returns_a_spec_or_one_input_error(work, text):
    _loads_or_refuses(spec.load, work / "services.yml", text, "spec")


@fuzz_settings("inventory")
@given(text=file_texts(inventory_shaped()))
def test_inventory_loader_returns_an_inventory_or_one_input_error(work, text):
    _loads_or_refuses(inventory.load, work / "inventory.yml", text, "inventory")


# --------------------------------------------------------------------------- the CLI

GOOD_INVENTORY = """\
all:
  children:
    swarm_managers:
      hosts:
        m1: {ansible_host: 127.0.0.11}
"""


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """swarmctl.cli.main() in this process, as `swarmctl ARGV...` (stdout, stderr)."""
    from swarmctl import cli

    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["swarmctl", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()


def assert_one_line_refusal(argv: list[str], code: int, stdout: str, stderr: str) -> None:
    shown = f"argv={argv!r}\nexit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert "Traceback" not in stdout + stderr, shown
    if code == 0:
        assert {"--help", "-h", "--version"} & set(argv) or not argv, shown
        return
    assert code == 2, shown
    if argv in ([], ["lab"], ["images"]):  # a bare group: its help, on stdout
        assert stderr == "" and "Usage:" in stdout, shown
        return
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), shown


OPTIONS = ["-i", "--inventory", "-v", "-vv", "--verbose", "--skip-checks", "--timeout",
           "--json", "--managers", "-m", "--workers", "-w", "--distro", "--quiet", "-q",
           "--", "-", "--bogus", "-x", "--help", "--version", "--timeout=-1", "-i=",
           "--managers=99999999999999999999999"]
COMMANDS = [["provision"], ["check"], ["deploy"], ["status"], ["images", "load"],
            ["images"], ["lab", "up"], ["lab", "down"], ["lab"], ["provison"], []]
VERBS = {"lab", "up", "down", "ssh", "status", "provision", "check", "deploy", "images",
         "load"}
bad_lab_names = st.one_of(st.sampled_from(["[/x]", "UPPER", "a b", "-", "", "x" * 41,
                                           "a_b", "é", "a.b", "\x00"]),
                          st.text(min_size=1, max_size=12).filter(
                              lambda s: not all(c.islower() or c.isdigit() or c == "-"
                                                for c in s) or not s.isascii()))


@st.composite
def argvs(draw, bad_files: list[str]):
    command = draw(st.sampled_from(COMMANDS))
    tokens = draw(st.lists(st.one_of(st.sampled_from(OPTIONS), texts, numbers.map(str),
                                     st.sampled_from(bad_files)), max_size=6))
    # the command stays the one drawn: no token names another (`lab up` would act)
    tokens = [t for t in tokens if t.strip().lower() not in VERBS]
    if command[:1] == ["lab"]:
        # never a usable lab name: `lab up/down` must not act, whatever else is passed
        tokens = [t for t in tokens if t not in ("-n", "--name") and not t.startswith("-n")
                  and not t.startswith("--n")]
        if command[1:] in (["up"], ["down"]):
            tokens += ["--name", draw(bad_lab_names)]
        return [*command, *tokens]
    return [*command, *tokens]


@pytest.fixture(scope="module")
def bad_files(work) -> list[str]:
    """Paths the CLI fuzz may pass: each a file the loaders refuse, a folder or nothing."""
    files = {"empty.yml": "", "list.yml": "- a\n", "dup.yml": "a: 1\na: 2\n",
             "markup.yml": "swarm_managers:\n  hosts:\n    '[/x]': {ansible_port: 0}\n",
             "spec.yml": "services:\n  - {name: '[/bold]', image: x}\n",
             "latin1.yml": "caf\xe9: 1\n".encode("latin-1")}
    paths = []
    for name, text in files.items():
        _write(work / name, text)
        paths.append(str(work / name))
    for path in paths:  # every one is refused by both loaders
        for load in (inventory.load, spec.load):
            with pytest.raises(InputError):
                load(path)
    return [*paths, str(work), str(work / "missing.yml"), "[/x].yml", "\udcff.yml"]


def _is_file(token: str) -> bool:
    try:
        return Path(token).is_file()
    except (OSError, ValueError):
        return False


@fuzz_settings("cli")
@given(data=st.data())
def test_cli_arguments_exit_0_or_refuse_with_one_line(bad_files, data):
    argv = data.draw(argvs(bad_files))
    # nothing the CLI could act on: a drawn text that names a real file is skipped
    assume(all(token in bad_files or not _is_file(token) for token in argv))
    with hang_guard(argv, "cli"):
        code, stdout, stderr = run_main(argv)
    assert_one_line_refusal(argv, code, stdout, stderr)


@fuzz_settings("deploy")
@given(text=file_texts(spec_shaped()), extra=st.lists(st.sampled_from(["-v", "--timeout",
                                                                       "5", "-1", "x"]),
                                                      max_size=2))
def test_deploy_refuses_every_bad_spec_with_one_line(work, text, extra):
    inv = work / "good-inventory.yml"
    _write(inv, GOOD_INVENTORY)
    path = work / "deploy-spec.yml"
    if _loads_or_refuses(spec.load, path, text, "deploy"):
        return  # a valid spec would be deployed: not here
    argv = ["deploy", "-i", str(inv), str(path), *extra]
    with hang_guard(argv, "deploy"):
        code, stdout, stderr = run_main(argv)
    assert_one_line_refusal(argv, code, stdout, stderr)


def test_the_fuzz_budget_is_what_the_readme_says():
    assert math.isclose(sum(SHARE.values()), 1.0)
    if "FUZZ_EXAMPLES" not in os.environ:
        assert EXAMPLES == 3000 and SEED == 19
