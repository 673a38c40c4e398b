"""The troubleshooting table of docs/troubleshooting.md quotes messages the code can actually print.

A message template of the code is an f-string or string literal in
``cganzoo/`` or ``plugins/`` (a ``+`` of them counts as one), its ``{...}``
fields being holes; library messages the CLI passes through (pydantic's) are
produced here for real. A backtick-quoted message of the table's first column
is cut at its ``...`` into segments; each segment must read as part of one
template: a run of the template's literal text, in order, whose holes (and
the segment's two ends) hold no more than a few words, the values the page
shows by example (``'X'``, ``D``, ``10``, ``generator``, ``SIGINT``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "troubleshooting.md"
HOLE = "\x00"
#: What a quoted message writes in place of a value: a quoted name, a lone capital, a number, brackets.
PLACEHOLDER = re.compile(r"'[^']*'|\b[A-Z]\b|-?\b\d+(?:\.\d+)?\b")
#: Most words a hole (or a segment's end) may hold once the placeholders are taken out.
HOLE_WORDS = 2


def troubleshooting_messages() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Troubleshooting", 1)[1]
    messages = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = re.split(r"(?<!\\) \| ", line[2:], maxsplit=1)[0]
        messages += [m.replace("\\|", "|") for m in re.findall(r"`([^`]+)`", first_cell)
                     if not m.startswith("cganzoo ")]  # a command the row is about, not a message
    return messages


def _template(node: ast.AST, names: dict[str, str] | None = None) -> str | None:
    """An f-string or string literal as text with a hole per ``{...}`` field; a ``+`` of such is one template.

    A field naming a local variable that holds a template (``where = f"cannot resume {d!r}"``) is inlined.
    """
    names = names or {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(v.value)
            elif isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name) and v.value.id in names:
                parts.append(names[v.value.id])
            elif (isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Call)  # "; ".join(parts)
                  and isinstance(v.value.func, ast.Attribute) and v.value.func.attr == "join"
                  and v.value.args and isinstance(v.value.args[0], ast.Name) and v.value.args[0].id in names):
                parts.append(names[v.value.args[0].id])
            else:
                parts.append(HOLE)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left, names), _template(node.right, names)
        if left is not None or right is not None:
            return (left if left is not None else HOLE) + (right if right is not None else HOLE)
    return None


def _templates_of(tree: ast.AST) -> list[str]:
    found = []
    for function in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
        names = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = node.value.elt if isinstance(node.value, ast.ListComp) else node.value
                text = _template(value)
                if text is not None:
                    names[node.targets[0].id] = text
        found += [t for t in (_template(node, names) for node in ast.walk(function)) if t]
    return found


def _library_messages() -> list[str]:
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    from cganzoo.config import validate_config
    from cganzoo.errors import ConfigError

    found = []
    with pytest.raises((SafetensorError, ValueError)) as caught:  # what a truncated checkpoint file gives
        load_safetensors(b"\x10" + b"\x00" * 7 + b"{}")
    found.append(str(caught.value))
    for bad in ({"batch_size": "many"}, {"batch_sise": 64}):
        with pytest.raises(ConfigError) as caught:
            validate_config(bad)
        found.append(str(caught.value))
    return found


def code_templates() -> list[str]:
    templates: list[str] = []
    for base in (ROOT / "cganzoo", ROOT / "plugins"):
        for path in base.rglob("*.py"):
            templates += [t for t in _templates_of(ast.parse(path.read_text(encoding="utf-8")))
                          if len(t.replace(HOLE, "")) >= 8]
    return templates + _library_messages()


def segments(message: str) -> list[str]:
    """The parts of a quoted message, cut at its ``...`` and at ``; `` (messages are composed of such clauses)."""
    return [part.strip() for part in re.split(r"\.\.\.|; ", message) if len(part.strip()) >= 3]


def _short(value: str, words: int = HOLE_WORDS) -> bool:
    return len(PLACEHOLDER.sub(" ", value).split()) <= words


def _end(text: str, literal: str | None, *, head: bool) -> int | None:
    """Characters of ``text`` (a segment's end) that are ``literal``'s own text, or None if it cannot be.

    At the head, ``text`` is the end of the literal before the run, then a hole's value;
    at the tail, a hole's value, then the start of the literal after the run.
    """
    for i in range(len(text), -1, -1):  # the most literal text first
        own, value = (text[:i], text[i:]) if head else (text[len(text) - i:], text[:len(text) - i])
        if not _short(value):
            continue
        if not own or (literal is not None and (literal.endswith(own) if head else literal.startswith(own))):
            return len(own.replace(" ", ""))
    return None


def _reads_as_part_of(segment: str, template: str) -> bool:
    literals = template.split(HOLE)
    # Most of the segment must be the template's own text, not values filled into its holes.
    needed = 0.35 * len(PLACEHOLDER.sub("", segment).replace(" ", ""))
    if any(segment in literal for literal in literals):
        return True
    for left, right in zip(literals, literals[1:]):  # the end of one literal, a hole, the start of the next
        for k in range(len(segment) + 1):
            head = _end(segment[:k], left, head=True)
            rest = segment[k:]
            tail = len(rest.replace(" ", "")) if rest and right.startswith(rest) else None
            if head is not None and tail and head + tail >= needed:
                return True
    for a in range(len(literals)):
        if not literals[a].strip(" ;,:.") or literals[a].strip(" ;,:.") not in segment:
            continue
        for b in range(a, len(literals)):
            run = literals[a:b + 1]
            run[0] = run[0].lstrip(" ;,:.")  # the segment was cut at its ends
            run[-1] = run[-1].rstrip(" ;,:.")
            if run[-1].strip(" ;,:.") not in segment:
                break  # a longer run needs this literal too
            pattern = "^(.*?)" + "(.*?)".join(re.escape(lit) for lit in run) + "(.*?)$"
            found = re.match(pattern, segment, re.S)
            if not found or not all(_short(group) for group in found.groups()[1:-1]):
                continue
            head = _end(found.group(1), literals[a - 1] if a else None, head=True)
            tail = _end(found.groups()[-1], literals[b + 1] if b + 1 < len(literals) else None, head=False)
            if head is not None and tail is not None and \
                    head + tail + sum(len(lit.replace(" ", "")) for lit in run) >= needed:
                return True
    return False


def matches_a_template(message: str, templates: list[str]) -> bool:
    parts = segments(message)
    words = {w for part in parts for w in re.findall(r"[A-Za-z_.]{5,}", PLACEHOLDER.sub(" ", part))}
    candidates = [t for t in templates if any(w in t for w in words)] if words else templates
    return bool(parts) and all(any(_reads_as_part_of(part, t) for t in candidates) for part in parts)


MESSAGES = troubleshooting_messages()


def test_the_table_quotes_messages():
    assert len(MESSAGES) > 40, MESSAGES
    assert any(m.startswith("mnist: every source failed") for m in MESSAGES)


@pytest.fixture(scope="module")
def templates() -> list[str]:
    return code_templates()


@pytest.mark.parametrize("message", MESSAGES)
def test_each_quoted_message_is_one_the_code_can_print(message, templates):
    assert matches_a_template(message, templates), f"the README quotes {message!r}, which no code prints"


@pytest.mark.parametrize("stale", [
    "MNIST could not be obtained from any source ...",             # the old multi-line form
    "label 'eleven' at position 0 is not a class index or a colour",  # a piece no message has
    "run directory 'D' has vanished into thin air",
])
def test_a_message_the_code_does_not_print_is_caught(stale, templates):
    assert not matches_a_template(stale, templates)
