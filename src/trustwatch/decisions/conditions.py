"""Rule conditions in CEL, the Common Expression Language.

A policy rule may carry ``when = '<CEL expression>'``; the engine evaluates it
only on signals that already passed the rule's cheap ``signals`` and
``min_score`` filter. Expressions are compiled once, when the policy loads,
with `common-expression-language
<https://github.com/hardbyte/python-common-expression-language>`_, Python
bindings over the Rust ``cel`` interpreter (the language is specified at
https://github.com/google/cel-spec).

The variables an expression can read are listed in :data:`CEL_VARIABLES` and
documented in :mod:`trustwatch.decisions.policy`. They are plain Python values
(dicts, lists, strings, numbers, booleans, ``None`` and UTC datetimes), built
per event only when some candidate rule has a condition, so rules without one
cost nothing extra. Handing a value to the interpreter copies it, which costs
far more than evaluating, so a condition that reads only ``signal.score`` and
``signal.reasons`` is handed only those two fields of ``signal``.

Load-time checks catch what can be caught without running the expression:
syntax errors, names that are not variables (nor a macro's bound name), a
field that ``signal``, ``ring`` or ``event`` never has, and a result that is
plainly not a boolean (arithmetic, a string or list literal, or a bare value
whose type is known and never a boolean: ``signal.score``, ``event.ts``,
``signals["risky_login"]``, a ``size()``). The last three read the
expression's tokens, not a full parse tree. Everything else (a key
missing from ``signal.evidence``, a type mismatch) fails at run time; such a
failure means the rule does not match, and the engine counts it. A compiled
condition may be shared between threads.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, NoReturn

import cel

from trustwatch.detectors.base import Signal
from trustwatch.events.model import EVENT_TYPES, EventBase, type_name

__all__ = [
    "CEL_VARIABLES",
    "EVENT_FIELDS",
    "MAX_NESTING",
    "RING_FIELDS",
    "SIGNAL_FIELDS",
    "SIGNAL_VARIABLES",
    "CelCondition",
    "ConditionError",
    "ConditionFailed",
    "compile_condition",
    "event_variable",
    "event_variables",
    "signal_variables",
    "strongest_signals",
    "to_cel",
]

#: The variables a rule condition can read.
CEL_VARIABLES = ("signal", "signals", "event", "ring", "intel")

#: CEL macros whose first argument names a variable bound inside the macro.
_BINDING_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

_RELATIONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
_OPENING = {"(": ")", "[": "]", "{": "}"}
_KEYWORDS = frozenset({"true", "false", "null", "in"})

# strings first: a prefix such as r or b would otherwise read as a name; raw
# strings know no escapes, so a backslash may end one
_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<raw>[bB]?[rR][bB]?
        (?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*"))
  | (?P<string>[bB]?
        (?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
          |'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?
        |\.\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<operator>==|!=|<=|>=|&&|\|\||.)
    """,
    re.VERBOSE | re.DOTALL,
)
_SYNTAX_POSITION = re.compile(r"<input>:(\d+):(\d+):")
#: The most brackets a condition may nest; deeper is refused before parsing.
#: The CEL parser itself gives up near 95 levels with a bare syntax error.
MAX_NESTING = 64

_INT64 = range(-(2**63), 2**63)

#: Failures that say what kind of evaluation error happened, most specific first.
_FAILURE_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (KeyError, "missing key"),
    (IndexError, "index out of range"),
    (TypeError, "type mismatch"),
    (ArithmeticError, "arithmetic error"),
)


class ConditionError(ValueError):
    """A condition that cannot compile.

    ``line`` and ``column`` (1-based, ``None`` when unknown) point at the
    problem within the expression.
    """

    def __init__(self, message: str, column: int | None, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.line = line


class ConditionFailed(Exception):
    """Evaluating a condition failed (a missing key, a type mismatch...)."""


@dataclass(frozen=True)
class CelCondition:
    """A compiled CEL condition, ready to run many times.

    Attributes
    ----------
    source
        The expression as written in the policy.
    variables
        The variables the expression reads; only these are built for it.
    kinds_read
        The signal kinds it names in ``signals["<kind>"]``, ``"<kind>" in
        signals``, ``signals.<kind>`` or ``signal.kind == "<kind>"``, so that
        a policy check can tell one no detector raises.
    required
        What the condition requires of every signal it matches, as
        ``(field, value)`` pairs: ``("signal.kind", "risky_login")`` for a
        ``signal.kind == "risky_login"`` that must hold (not one side of an
        ``||``), and likewise ``("event.type", "login")``. A policy check
        tells a rule whose kinds can never meet them.
    """

    source: str
    _program: cel.Program = field(compare=False, repr=False)
    variables: frozenset[str] = field(default=frozenset(CEL_VARIABLES), compare=False)
    kinds_read: frozenset[str] = field(default=frozenset(), compare=False)
    required: frozenset[tuple[str, str]] = field(default=frozenset(), compare=False)
    #: For each variable read, the fields it reads, or None for all of them.
    _fields: tuple[tuple[str, frozenset[str] | None], ...] = field(
        default=(), compare=False, repr=False
    )

    def matches(self, variables: Mapping[str, Any]) -> bool:
        """Return the condition's value for ``variables``.

        Parameters
        ----------
        variables
            At least the variables in :attr:`variables`, as built by
            :func:`signal_variables` and :func:`event_variables`.

        Raises
        ------
        ConditionFailed
            When evaluation fails or the result is not a boolean; the message
            names the failure's kind, never the data.
        """
        context = {}
        for name, fields in self._fields:
            value = variables[name]
            if fields is not None and type(value) is dict:
                value = {key: value[key] for key in fields if key in value}
            context[name] = value
        try:
            result = self._program.execute(context)
        except Exception as exc:
            raise ConditionFailed(_failure_kind(exc)) from None
        except BaseException as exc:
            # a Rust panic reaches Python as a BaseException: it means this
            # evaluation failed, not that the process should stop
            if not _is_rust_panic(exc):
                raise
            raise ConditionFailed("evaluation error") from None
        if type(result) is not bool:
            raise ConditionFailed(f"result is a {type(result).__name__}, not a bool")
        return result

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle (and copy) as the source: a compiled program cannot be."""
        return compile_condition, (self.source,)


def compile_condition(source: str) -> CelCondition:
    """Parse, check and compile one CEL expression.

    Raises
    ------
    ConditionError
        On a syntax error, a name that is not a variable, or a result that is
        plainly not a boolean; ``column`` points at the problem where known.

    Examples
    --------
    >>> condition = compile_condition('signal.score > 0.9')
    >>> condition.source, sorted(condition.variables)
    ('signal.score > 0.9', ['signal'])
    >>> condition.matches({"signal": {"score": 0.95}})
    True
    """
    _check_nesting(source)
    try:
        program = cel.compile(source)
    except ValueError as exc:
        line, column = _syntax_position(str(exc), source)
        raise ConditionError("syntax error", column, line) from None
    except BaseException as exc:
        if not _is_rust_panic(exc):
            raise
        raise ConditionError("cannot compile: internal error", None) from None
    tokens = _tokens(source)
    names = set(program.variables())
    _check_names(names, source, tokens)
    _check_fields(source, tokens)
    _check_boolean(source, tokens)
    _check_constant(tokens)
    _check_comparisons(source, tokens)
    _check_ranges(source, tokens)
    read = frozenset(names & set(CEL_VARIABLES))
    fields = tuple((name, _fields_read(name, tokens)) for name in sorted(read))
    return CelCondition(
        source, program, read, _kinds_read(tokens), _required(tokens), fields
    )


class _Token(NamedTuple):
    kind: str  # name, string, number or operator
    text: str
    offset: int


def _tokens(source: str) -> list[_Token]:
    """Split an expression that compiled into names, literals and operators."""
    found = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:  # unreachable: the last branch takes any character
            break
        kind = match.lastgroup or "operator"
        if kind == "raw":
            kind = "string"
        if kind != "space":
            found.append(_Token(kind, match.group(), position))
        position = match.end()
    return found


def _check_nesting(source: str) -> None:
    """Refuse brackets nested deeper than :data:`MAX_NESTING`.

    The parser reports deep nesting as a syntax error somewhere in the
    middle (or runs out of stack); counting first names the real problem.
    Brackets inside string literals do not count.
    """
    depth = 0
    for token in _tokens(source):
        if token.kind != "operator":
            continue
        if token.text in _OPENING:
            depth += 1
        elif token.text in _OPENING.values():
            depth = max(depth - 1, 0)
        if depth > MAX_NESTING:
            line = source.count("\n", 0, token.offset) + 1
            column = token.offset - source.rfind("\n", 0, token.offset)
            raise ConditionError(
                f"too deeply nested: more than {MAX_NESTING} levels of brackets",
                column,
                line,
            )


def _syntax_position(message: str, source: str) -> tuple[int, int | None]:
    """Return the line and column of the first error the parser reports."""
    # the message repeats the expression first, which may hold the pattern
    echoed = message.find(source)
    after = echoed + len(source) if echoed >= 0 else 0
    found = _SYNTAX_POSITION.search(message, after)
    if found is None:
        return 1, None
    return int(found.group(1)), int(found.group(2))


def _check_names(names: set[str], source: str, tokens: list[_Token]) -> None:
    """Refuse identifiers that are neither variables nor bound by a macro."""
    unknown = names - set(CEL_VARIABLES) - _macro_bound_names(tokens)
    if not unknown:
        return
    known = ", ".join(CEL_VARIABLES)
    at = next((t for t in _root_names(tokens) if t.text in unknown), None)
    if at is None:  # named in a way the tokens do not show
        name = min(unknown)
        raise ConditionError(
            f"unknown variable {name!r}; the variables are {known}", None
        )
    line = source.count("\n", 0, at.offset) + 1
    column = at.offset - source.rfind("\n", 0, at.offset)
    raise ConditionError(
        f"unknown variable {at.text!r}; the variables are {known}", column, line
    )


def _check_fields(source: str, tokens: list[_Token]) -> None:
    """Refuse a field that a variable of fixed fields never has.

    ``signal``, ``ring`` and ``event`` are maps whose keys are known
    (``event`` has the fields of every event type); a misspelt one (``signal.
    scor``) would otherwise fail on every evaluation, and the rule would
    never match. Only the first field after the variable is checked:
    ``signal.evidence`` and ``signal.features`` differ by detector.
    """
    bound = _macro_bound_names(tokens)
    for i, token in enumerate(tokens[:-2]):
        known = _FIXED_FIELDS.get(token.text)
        if (
            known is None
            or token.kind != "name"
            or token.text in bound
            or (i > 0 and tokens[i - 1].text == ".")
            or tokens[i + 1].text != "."
            or tokens[i + 2].kind != "name"
            # a method or macro on the map itself: signal.size(), event.exists(..)
            or (i + 3 < len(tokens) and tokens[i + 3].text == "(")
        ):
            continue
        field = tokens[i + 2]
        if field.text in known:
            continue
        line = source.count("\n", 0, field.offset) + 1
        column = field.offset - source.rfind("\n", 0, field.offset)
        close = difflib.get_close_matches(field.text, known, n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"its fields are {', '.join(sorted(known))}"
        )
        raise ConditionError(
            f"{token.text} has no field {field.text!r}; {hint}", column, line
        )


def _macro_bound_names(tokens: list[_Token]) -> set[str]:
    """Return the names macros such as ``exists(i, ...)`` bind."""
    texts = [token.text for token in tokens]
    return {
        texts[i + 3]
        for i in range(len(tokens) - 4)
        if texts[i] == "."
        and texts[i + 1] in _BINDING_MACROS
        and texts[i + 2] == "("
        and tokens[i + 3].kind == "name"
        and texts[i + 4] == ","
    }


def _root_names(tokens: list[_Token]) -> list[_Token]:
    """Return the names that start a selection: not a field, not a function."""
    roots = []
    for i, token in enumerate(tokens):
        if token.kind != "name" or token.text in _KEYWORDS:
            continue
        after_dot = i > 0 and tokens[i - 1].text == "."
        called = i + 1 < len(tokens) and tokens[i + 1].text == "("
        if not after_dot and not called:
            roots.append(token)
    return roots


def _fields_read(name: str, tokens: list[_Token]) -> frozenset[str] | None:
    """Return the fields of variable ``name`` the expression selects.

    ``None`` when it also uses the variable whole (passes it to a function,
    indexes it, calls a method on it), so every field must be there.
    """
    fields = set()
    for i, token in enumerate(tokens):
        if token.kind != "name" or token.text != name:
            continue
        if i > 0 and tokens[i - 1].text == ".":
            continue  # a field of something else that has the same name
        after = tokens[i + 1 : i + 4]
        texts = [t.text for t in after] + ["", "", ""]
        is_field = texts[0] == "." and len(after) > 1 and after[1].kind == "name"
        if is_field and texts[2] != "(":
            fields.add(texts[1])
            continue
        return None
    return frozenset(fields)


def _check_boolean(source: str, tokens: list[_Token]) -> None:
    """Refuse an expression whose top operation cannot give a boolean."""
    while (
        len(tokens) > 2
        and tokens[0].text == "("
        and _closing(tokens, 0) == len(tokens) - 1
    ):
        tokens = tokens[1:-1]
    top = _top_level(tokens)
    texts = {token.text for _, token in top if token.kind in ("operator", "name")}
    if texts & {"?", "||", "&&"} or texts & _RELATIONS:
        return  # ?: shows its type at run time; the others give a boolean
    if any(_is_binary_arithmetic(tokens, i) for i, _ in top):
        _not_boolean()
    first = tokens[0] if tokens else None
    if first is None or first.text == "!":
        return
    if first.text == "-" and first.kind == "operator":
        _not_boolean()
    if len(tokens) == 1 and first.kind in ("string", "number"):
        _constant()
    if len(tokens) == 1 and first.text == "null":
        _constant()
    if first.text in ("[", "{") and _closing(tokens, 0) == len(tokens) - 1:
        _not_boolean()
    _check_bare_value(source, tokens)


def _top_level(tokens: list[_Token]) -> list[tuple[int, _Token]]:
    """Return the tokens outside any brackets, with their indexes."""
    depth = 0
    top = []
    for i, token in enumerate(tokens):
        if token.kind == "operator" and token.text in _OPENING:
            depth += 1
        elif token.kind == "operator" and token.text in (")", "]", "}"):
            depth -= 1
        elif depth == 0:
            top.append((i, token))
    return top


def _closing(tokens: list[_Token], opening: int) -> int:
    """Return the index of the bracket that closes ``tokens[opening]``."""
    closer = _OPENING[tokens[opening].text]
    depth = 0
    for i in range(opening, len(tokens)):
        if tokens[i].kind != "operator":
            continue
        if tokens[i].text == tokens[opening].text:
            depth += 1
        elif tokens[i].text == closer:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _is_binary_arithmetic(tokens: list[_Token], index: int) -> bool:
    """Tell whether ``tokens[index]`` is +, -, *, / or % between two operands."""
    token = tokens[index]
    if token.kind != "operator" or token.text not in _ARITHMETIC or index == 0:
        return False
    before = tokens[index - 1]
    return before.kind != "operator" or before.text in (")", "]", "}")


def _check_bare_value(source: str, tokens: list[_Token]) -> None:
    """Refuse an expression that is only a value of a known, non-boolean type.

    ``signal.score``, ``event.ts``, ``signals["risky_login"]``, ``signal``
    itself or a ``size()`` never give true or false, whatever the event: the
    variables are built with these types, and an ``event`` field the event
    left out is ``null``. A field that is a boolean on some event type
    (``event.success``) passes, as does anything whose type depends on the
    data (``signal.evidence.flag``).
    """
    texts = [token.text for token in tokens]
    kind = None
    if len(tokens) == 1 and tokens[0].kind == "name":
        kind = _VARIABLE_TYPES.get(texts[0])
    elif len(tokens) == 3 and tokens[0].kind == "name" and texts[1] == ".":
        kind = _FIELD_TYPES.get(texts[0], {}).get(texts[2])
    elif texts[:2] == ["signals", "["] and _closing(tokens, 1) == len(tokens) - 1:
        kind = "double"
    elif (texts[:2] == ["size", "("] and _closing(tokens, 1) == len(tokens) - 1) or (
        len(tokens) > 4 and texts[-4:] == [".", "size", "(", ")"]
    ):
        kind = "int"
    if kind is None:
        return
    shown = " ".join(source.split())
    if len(shown) > _SHOWN_VALUE:
        shown = shown[: _SHOWN_VALUE - 3] + "..."
    start = tokens[0].offset
    raise ConditionError(
        f"the condition is {shown}, {'an' if kind == 'int' else 'a'} {kind}, "
        "never true or false; hint: "
        f"compare it, e.g. {_COMPARISONS[kind].format(shown)}",
        start - source.rfind("\n", 0, start),
        source.count("\n", 0, start) + 1,
    )


def _unwrapped(tokens: list[_Token]) -> list[_Token]:
    """Return ``tokens`` without brackets that enclose all of them."""
    while (
        len(tokens) > 2
        and tokens[0].text == "("
        and _closing(tokens, 0) == len(tokens) - 1
    ):
        tokens = tokens[1:-1]
    return tokens


def _split(tokens: list[_Token], operator: str) -> list[list[_Token]]:
    """Split ``tokens`` at ``operator`` where it stands outside any brackets."""
    parts, start = [], 0
    for i, token in _top_level(tokens):
        if token.kind == "operator" and token.text == operator:
            parts.append(tokens[start:i])
            start = i + 1
    parts.append(tokens[start:])
    return parts


def _constant_value(tokens: list[_Token]) -> bool | None:
    """Return the value of an expression that is the same on every event.

    Reads ``true``, ``false``, ``!``, ``&&`` and ``||`` (``x && false`` is
    false whatever ``x`` is); ``None`` where the value may depend on the event.
    """
    tokens = _unwrapped(tokens)
    if not tokens or any(t.text == "?" for _, t in _top_level(tokens)):
        return None
    for operator, absorbing in (("||", True), ("&&", False)):
        parts = _split(tokens, operator)
        if len(parts) > 1:
            values = [_constant_value(part) for part in parts]
            if absorbing in values:
                return absorbing
            return (not absorbing) if all(v is not None for v in values) else None
    if tokens[0].kind == "operator" and tokens[0].text == "!":
        value = _constant_value(tokens[1:])
        return None if value is None else not value
    if len(tokens) == 1 and tokens[0].kind == "name":
        return {"true": True, "false": False}.get(tokens[0].text)
    return None


def _check_constant(tokens: list[_Token]) -> None:
    """Refuse a condition that is true, or false, whatever the event."""
    value = _constant_value(tokens)
    if value is None:
        return
    hint = (
        'set mode = "disabled" to turn the rule off'
        if not value
        else "leave when out for a rule that acts on every signal it reads"
    )
    raise ConditionError(
        f"the condition is always {str(value).lower()}, whatever the event; "
        f"hint: {hint}",
        1,
    )


def _score_comparison(relation: str, number: float) -> bool | None:
    """The value of ``<score> <relation> number`` for every score in [0, 1].

    ``None`` where it depends on the score.
    """
    low, high = _compare(relation, 0.0, number), _compare(relation, 1.0, number)
    inside = 0 <= number <= 1
    if relation in ("==", "!="):
        return None if inside else relation == "!="
    return low if low == high else None


def _compare(relation: str, left: float, right: float) -> bool:
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
        "==": left == right,
        "!=": left != right,
    }[relation]


_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
_STARTS = ("(", "&&", "||", "!", "?", ":", ",")
_ENDS = (")", "&&", "||", "?", ":", ",", "]", "}")


def _check_ranges(source: str, tokens: list[_Token]) -> None:
    """Refuse comparing a score with a number that every score is above or below.

    ``signal.score`` and ``signals[...]`` lie in [0, 1]: ``signal.score > 2.0``
    is false on every event, ``signal.score >= 0`` true on every one.
    """
    for i, token in enumerate(tokens):
        relation = token.text
        if token.kind != "operator" or relation not in _FLIPPED:
            continue
        score, number = _score_before(tokens, i), _number_after(tokens, i)
        if score is None or number is None:
            score, number = _score_after(tokens, i), _number_before(tokens, i)
            relation = _FLIPPED[relation]
        if score is None or number is None:
            continue
        constant = _score_comparison(relation, number)
        if constant is not None:
            value = str(constant).lower()
            hint, where = "compare it with a number in [0, 1]", ""
            kind = _kind_of_score(score)
            if kind is not None:
                where = " wherever the kind is raised"
                if constant:
                    hint = f"to test that the kind was raised, write {kind} in signals"
            _refuse_comparison(
                source,
                token,
                f"{score} lies in [0, 1], so comparing it with {number!r} is "
                f"always {value}{where}; hint: {hint}",
            )


def _kind_of_score(score: str) -> str | None:
    """The kind a ``signals.K`` or ``signals["K"]`` score names, as a CEL
    string; ``None`` for ``signal.score``."""
    if score.startswith("signals["):
        return score[len("signals[") : -1]
    if score.startswith("signals."):
        return '"' + score[len("signals.") :] + '"'
    return None


def _score_before(tokens: list[_Token], index: int) -> str | None:
    """Name the score just left of ``tokens[index]``, if it is one."""
    for size in (3, 4):
        start = index - size
        if start < 0 or (start > 0 and tokens[start - 1].text not in _STARTS):
            continue
        if _is_score(tokens[start:index]):
            return "".join(t.text for t in tokens[start:index])
    return None


def _score_after(tokens: list[_Token], index: int) -> str | None:
    """Name the score just right of ``tokens[index]``, if it is one."""
    for size in (3, 4):
        end = index + 1 + size
        if end > len(tokens) or (end < len(tokens) and tokens[end].text not in _ENDS):
            continue
        if _is_score(tokens[index + 1 : end]):
            return "".join(t.text for t in tokens[index + 1 : end])
    return None


def _is_score(tokens: list[_Token]) -> bool:
    """Tell whether ``tokens`` are ``signal.score``, ``signals.K``, ``signals["K"]``."""
    texts = [t.text for t in tokens]
    if texts == ["signal", ".", "score"]:
        return True
    if len(tokens) == 3 and texts[:2] == ["signals", "."]:
        return tokens[2].kind == "name"
    return (
        len(tokens) == 4
        and texts[:2] == ["signals", "["]
        and tokens[2].kind == "string"
        and texts[3] == "]"
    )


def _number_after(tokens: list[_Token], index: int) -> float | None:
    """The number (a literal, maybe negated) just right of ``tokens[index]``."""
    sign, at = 1.0, index + 1
    if at < len(tokens) and tokens[at].text == "-" and tokens[at].kind == "operator":
        sign, at = -1.0, at + 1
    if at >= len(tokens) or tokens[at].kind != "number":
        return None
    if at + 1 < len(tokens) and tokens[at + 1].text not in _ENDS:
        return None
    return _number(tokens[at], sign)


def _number_before(tokens: list[_Token], index: int) -> float | None:
    """The number (a literal, maybe negated) just left of ``tokens[index]``."""
    at = index - 1
    if at < 0 or tokens[at].kind != "number":
        return None
    sign = 1.0
    if at >= 1 and tokens[at - 1].text == "-" and tokens[at - 1].kind == "operator":
        sign, at = -1.0, at - 1
    if at > 0 and tokens[at - 1].text not in _STARTS:
        return None
    return _number(tokens[index - 1], sign)


def _number(token: _Token, sign: float) -> float | None:
    text = token.text.lower().removesuffix("u")
    try:
        return sign * (int(text, 16) if text.startswith("0x") else float(text))
    except ValueError:
        return None


def _required(tokens: list[_Token]) -> frozenset[tuple[str, str]]:
    """Return what every match must have: ``signal.kind``, ``event.type`` values.

    Read from the conjuncts that must all hold (the parts of a top-level
    ``&&``), each ``<field> == "<value>"`` or ``"<value>" == <field>``.
    """
    tokens = _unwrapped(tokens)
    if any(t.text in ("?", "||") for _, t in _top_level(tokens)):
        return frozenset()
    found = set()
    for part in _split(tokens, "&&"):
        part = _unwrapped(part)
        if len(part) != 5 or (part[3].text != "==" and part[1].text != "=="):
            continue
        for field_at, op_at, value_at in ((0, 3, 4), (2, 1, 0)):
            path = "".join(t.text for t in part[field_at : field_at + 3])
            value = _plain_string(part[value_at])
            if (
                part[op_at].text == "=="
                and value is not None
                and path
                in (
                    "signal.kind",
                    "event.type",
                )
            ):
                found.add((path, value))
    return frozenset(found)


def _check_comparisons(source: str, tokens: list[_Token]) -> None:
    """Refuse ``==`` and ``!=`` that can never tell one event from another.

    A field compared with a literal of a type it never holds
    (``event.success == "false"``, ``event.ip == 45``), a field of fixed
    values compared with none of them (``event.change == "disable"``), and
    two literals compared (``1 == 2``) give the same answer on every event;
    a rule written so never fires, or always does.
    """
    for i, token in enumerate(tokens):
        if token.kind != "operator" or token.text not in ("==", "!="):
            continue
        left, right = _operand_before(tokens, i), _operand_after(tokens, i)
        if left is None or right is None:
            continue
        if left[0] == "literal" and right[0] == "literal":
            _refuse_comparison(
                source, tokens[i], "compares two constants, the same on every event"
            )
        field, literal = (left, right) if left[0] == "field" else (right, left)
        if field[0] != "field" or literal[0] != "literal":
            continue
        problem = _mismatch(field[1], literal[1])
        if problem is not None:
            _refuse_comparison(source, tokens[i], problem)


def _operand_before(tokens: list[_Token], index: int) -> tuple[str, Any] | None:
    """The field path or literal just left of ``tokens[index]``, if simple."""
    if index >= 3 and _is_field(tokens[index - 3 : index]):
        before = tokens[index - 4] if index >= 4 else None
        if before is None or before.text not in (".", "]", ")"):
            return "field", (tokens[index - 3].text, tokens[index - 1].text)
    if index >= 1 and _literal(tokens[index - 1]) is not None:
        before = tokens[index - 2] if index >= 2 else None
        if before is None or before.text in ("(", "&&", "||", "!", "?", ":", ","):
            return "literal", tokens[index - 1]
    return None


def _operand_after(tokens: list[_Token], index: int) -> tuple[str, Any] | None:
    """The field path or literal just right of ``tokens[index]``, if simple."""
    after = tokens[index + 1 : index + 4]
    ends = (")", "&&", "||", "?", ":", ",", "]", "}")
    if _is_field(after):
        following = tokens[index + 4] if index + 4 < len(tokens) else None
        if following is None or following.text in ends:
            return "field", (after[0].text, after[2].text)
    if after and _literal(after[0]) is not None:
        following = tokens[index + 2] if index + 2 < len(tokens) else None
        if following is None or following.text in ends:
            return "literal", after[0]
    return None


def _is_field(tokens: list[_Token]) -> bool:
    return (
        len(tokens) == 3
        and tokens[0].kind == "name"
        and tokens[0].text in _LITERAL_TYPES
        and tokens[1].text == "."
        and tokens[2].kind == "name"
    )


def _literal(token: _Token) -> str | None:
    """The CEL type of a literal token: string, int, double, bool or null."""
    if token.kind == "string":
        return "string" if _plain_string(token) is not None else None
    if token.kind == "number":
        text = token.text.lower()
        if text.startswith("0x"):
            return "int"
        return "double" if any(c in text for c in ".e") else "int"
    if token.kind == "name" and token.text in ("true", "false"):
        return "bool"
    return None


def _mismatch(field: tuple[str, str], token: _Token) -> str | None:
    """Why comparing ``field`` with the literal ``token`` tells nothing, if so."""
    variable, name = field
    held = _LITERAL_TYPES[variable].get(name)
    kind = _literal(token)
    if held is None or kind is None:
        return None
    types, values = held
    numeric = {"int", "double"}
    if kind in types or (kind in numeric and types & numeric):
        value = _plain_string(token)
        if kind == "string" and values and value is not None and value not in values:
            close = difflib.get_close_matches(value, sorted(values), n=1)
            hint = f"did you mean {close[0]!r}" if close else "use one of them"
            return (
                f"{variable}.{name} is one of {', '.join(sorted(values))}, never "
                f"{value!r}; hint: {hint}"
            )
        return None
    shown = ", ".join(sorted(types - {"null"})) or "null"
    hint = "compare it with a value of that type"
    if "bool" in types and kind == "string" and token.text[1:-1] in ("true", "false"):
        hint = f"write {variable}.{name} == {token.text[1:-1]}"
    elif "timestamp" in types and kind == "string":
        hint = f"write {variable}.{name} == timestamp({token.text})"
    article = "an" if kind == "int" else "a"
    return f"{variable}.{name} holds {shown}, never {article} {kind}; hint: {hint}"


def _refuse_comparison(source: str, token: _Token, problem: str) -> NoReturn:
    start = token.offset
    raise ConditionError(
        f"a comparison that never tells events apart: {problem}",
        start - source.rfind("\n", 0, start),
        source.count("\n", 0, start) + 1,
    )


def _kinds_read(tokens: list[_Token]) -> frozenset[str]:
    """Return the kinds named in ``signals["<kind>"]``, ``"<kind>" in signals``,
    ``signals.<kind>`` and ``signal.kind == "<kind>"`` (or ``!=``).

    Only plain string literals count: a kind computed at run time, or written
    with escapes, is not known here.
    """
    kinds: set[str | None] = set()
    for i, token in enumerate(tokens):
        if token.kind != "name" or token.text != "signals":
            continue
        if i > 0 and tokens[i - 1].text == ".":
            continue  # a field called signals, not the variable
        after = [t.text for t in tokens[i + 1 : i + 4]]
        if len(after) == 3 and after[0] == "[" and after[2] == "]":
            kinds.add(_plain_string(tokens[i + 2]))
        if i >= 2 and tokens[i - 1].kind == "name" and tokens[i - 1].text == "in":
            kinds.add(_plain_string(tokens[i - 2]))
        if (
            len(after) >= 2
            and after[0] == "."
            and tokens[i + 2].kind == "name"
            and after[2:3] != ["("]
        ):
            kinds.add(tokens[i + 2].text)  # signals.risky_login, has(signals.x)
    texts = [token.text for token in tokens]
    for i in range(len(tokens) - 4):
        if texts[i : i + 3] == ["signal", ".", "kind"] and texts[i + 3] in ("==", "!="):
            kinds.add(_plain_string(tokens[i + 4]))
        if texts[i + 2 : i + 5] == ["signal", ".", "kind"] and texts[i + 1] in (
            "==",
            "!=",
        ):
            kinds.add(_plain_string(tokens[i]))
    return frozenset(kind for kind in kinds if kind)


def _plain_string(token: _Token) -> str | None:
    """Return a quoted literal's text when it has no prefix, escape or newline."""
    text = token.text
    if (
        token.kind != "string"
        or len(text) < 2
        or text[0] not in "'\""
        or text[-1] != text[0]
        or "\\" in text
        or "\n" in text
        or text[:3] in ("'''", '"""')
    ):
        return None
    return text[1:-1]


def _not_boolean() -> NoReturn:
    raise ConditionError(
        "the condition must give true or false; hint: compare it, e.g. '... > 0.5'",
        1,
    )


def _constant() -> NoReturn:
    raise ConditionError("the condition is a constant that is not true or false", 1)


def _is_rust_panic(exc: BaseException) -> bool:
    """Tell whether ``exc`` is PyO3's PanicException (a panic in the Rust code)."""
    return type(exc).__module__ == "pyo3_runtime"


def _failure_kind(exc: Exception) -> str:
    """Name what failed without repeating values from the event."""
    for kind, name in _FAILURE_KINDS:
        if isinstance(exc, kind):
            return name
    text = str(exc)
    if isinstance(exc, ValueError) and text.startswith("Conversion Error"):
        return "unusable signal or event value"
    if isinstance(exc, RuntimeError) and text.startswith("Undefined variable"):
        return "unknown name or function"
    return "evaluation error"


def signal_variables(signal: Signal) -> dict[str, Any]:
    """Return ``signal``, ``ring`` and ``intel`` for one signal, as CEL values."""
    return {name: build(signal) for name, build in SIGNAL_VARIABLES.items()}


def event_variables(event: EventBase, signals: Sequence[Signal]) -> dict[str, Any]:
    """Return ``event`` and ``signals`` for one event, as CEL values."""
    return {
        "event": event_variable(event),
        "signals": strongest_signals(signals),
    }


def _signal_map(signal: Signal) -> dict[str, Any]:
    evidence = to_cel(signal.evidence if isinstance(signal.evidence, dict) else {})
    features = evidence.get("features")
    return {
        "kind": signal.kind,
        "score": float(signal.score),
        "detector": signal.detector,
        "detector_version": signal.detector_version,
        "entity_type": signal.entity_type,
        "entity": signal.entity,
        "reasons": to_cel(signal.reasons),
        "features": features if isinstance(features, dict) else {},
        "evidence": evidence,
        "indicators": _intel(signal),
    }


def _intel(signal: Signal) -> list[dict[str, Any]]:
    return [
        {
            "type": to_cel(ref.type),
            "value": to_cel(ref.value),
            "feed": to_cel(ref.feeds[0]) if ref.feeds else "",
            "feeds": to_cel(ref.feeds),
            "confidence": to_cel(ref.confidence),
            "reference": to_cel(ref.reference or ""),
        }
        for ref in signal.indicators
    ]


def _ring(signal: Signal) -> dict[str, Any]:
    """Return ring membership from a ring signal's evidence, or an empty map."""
    evidence = signal.evidence if isinstance(signal.evidence, dict) else {}
    if "ring_id" not in evidence:
        return {}
    return {
        "id": str(evidence.get("ring_id")),
        "size": to_cel(evidence.get("ring_size", 0)),
        "risk": to_cel(evidence.get("ring_risk", 0.0)),
    }


#: How each per-signal variable is built.
SIGNAL_VARIABLES = {"signal": _signal_map, "ring": _ring, "intel": _intel}

#: The fields of the variables whose fields are fixed (see ``_check_fields``).
SIGNAL_FIELDS = frozenset(
    {
        "kind",
        "score",
        "detector",
        "detector_version",
        "entity_type",
        "entity",
        "reasons",
        "features",
        "evidence",
        "indicators",
    }
)
RING_FIELDS = frozenset({"id", "size", "risk"})
EVENT_FIELDS = frozenset(
    {"type"}.union(*(kind.__struct_fields__ for kind in EVENT_TYPES.values()))
)
_FIXED_FIELDS = {"signal": SIGNAL_FIELDS, "ring": RING_FIELDS, "event": EVENT_FIELDS}

#: The CEL type of each variable, none of them a boolean.
_VARIABLE_TYPES = {
    "signal": "map",
    "signals": "map",
    "event": "map",
    "ring": "map",
    "intel": "list",
}
#: How to turn a value of each type into a condition, for hints.
_COMPARISONS = {
    "double": "'{} > 0.5'",
    "int": "'{} > 0'",
    "string": "'{} == \"...\"'",
    "list": "'\"...\" in {}'",
    "map": "'\"...\" in {}'",
    "timestamp": "'{} > timestamp(\"2026-01-01T00:00:00Z\")'",
}
_SHOWN_VALUE = 60


def _cel_type(hint: Any) -> str | None:
    """Return the CEL type of an event field's annotation; None if it may be bool."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if hint is bool or bool in args:
        return None
    if typing.get_origin(hint) is typing.Literal:
        return "string" if all(type(a) is str for a in args) else None
    if len(args) == 1 and typing.get_origin(hint) is not tuple:
        return _cel_type(args[0])  # an optional field: its value or null
    names = {str: "string", int: "int", float: "double", datetime: "timestamp"}
    if hint in names:
        return names[hint]
    if typing.get_origin(hint) in (tuple, list):
        return "list"
    return None


def _event_field_types() -> dict[str, str]:
    """Return the CEL type of each ``event`` field that is never a boolean."""
    types: dict[str, set[str | None]] = {"type": {"string"}}
    for kind in EVENT_TYPES.values():
        hints = typing.get_type_hints(kind)
        for name in kind.__struct_fields__:
            types.setdefault(name, set()).add(_cel_type(hints[name]))
    fixed = {}
    for name, found in types.items():
        only = found.pop() if len(found) == 1 else None
        if only is not None:
            fixed[name] = only
    return fixed


#: The CEL type of each field whose type is fixed and never a boolean.
_FIELD_TYPES: dict[str, dict[str, str]] = {
    "signal": {
        "kind": "string",
        "score": "double",
        "detector": "string",
        "detector_version": "string",
        "entity_type": "string",
        "entity": "string",
        "reasons": "list",
        "features": "map",
        "evidence": "map",
        "indicators": "list",
    },
    "ring": {"id": "string", "size": "int", "risk": "double"},
    "event": _event_field_types(),
}


def _held_types(hint: Any) -> tuple[set[str], set[str]] | None:
    """The CEL types an annotation holds, and a Literal's values; None if unknown."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    nullable = len(args) < len(typing.get_args(hint))
    if typing.get_origin(hint) is typing.Literal:
        if all(type(a) is str for a in args):
            return {"string"}, {str(a) for a in args}
        return None
    if nullable and len(args) == 1:
        inner = _held_types(args[0])
        return None if inner is None else ({*inner[0], "null"}, inner[1])
    names = {bool: "bool", str: "string", int: "int", float: "double"}
    if hint in names:
        return {names[hint]}, set()
    if hint is datetime:
        return {"timestamp"}, set()
    return None


def _event_literal_types() -> dict[str, tuple[set[str], set[str]]]:
    """Each ``event`` field's CEL types and fixed values, over every event type.

    A field another event type lacks reads as ``null``; a field whose type
    is not plain (a list, a nested record) is left out.
    """
    found: dict[str, tuple[set[str], set[str]]] = {"type": ({"string"}, set())}
    found["type"][1].update(EVENT_TYPES)
    unknown: set[str] = set()
    for kind in EVENT_TYPES.values():
        hints = typing.get_type_hints(kind)
        for name in kind.__struct_fields__:
            if name == "type":
                continue
            held = _held_types(hints[name])
            if held is None:
                unknown.add(name)
                continue
            types, values = found.setdefault(name, (set(), set()))
            types |= held[0]
            values |= held[1]
    for name in unknown:
        found.pop(name, None)
    return found


#: What each field a comparison names can hold: its CEL types, and the values
#: of a field of fixed values (``event.change``); used by load-time checks.
_LITERAL_TYPES: dict[str, dict[str, tuple[set[str], set[str]]]] = {
    "signal": {
        name: ({kind}, set())
        for name, kind in _FIELD_TYPES["signal"].items()
        if kind in ("string", "double")
    },
    "ring": {name: ({kind}, set()) for name, kind in _FIELD_TYPES["ring"].items()},
    "event": _event_literal_types(),
}


def event_variable(event: EventBase) -> dict[str, Any]:
    """Return the ``event`` variable: its type and every field, unset ones null."""
    fields: dict[str, Any] = {"type": type_name(event)}
    for name in event.__struct_fields__:
        fields[name] = to_cel(getattr(event, name))
    return fields


def strongest_signals(signals: Sequence[Signal]) -> dict[str, float]:
    """Return the ``signals`` variable: each kind raised and its highest score."""
    strongest: dict[str, float] = {}
    for signal in signals:
        if signal.score > strongest.get(signal.kind, -1.0):
            strongest[signal.kind] = float(signal.score)
    return strongest


def to_cel(value: Any) -> Any:
    """Return ``value`` as plain values the CEL interpreter accepts.

    Strings, floats, booleans and ``None`` stay; integers beyond 64 bits
    become doubles; map keys become strings; tuples and sets become lists
    (sets sorted where they can be); datetimes become aware UTC datetimes (a
    naive one is read as UTC) and ``timedelta`` stays a CEL duration; other
    numbers become ``int`` or ``float``; anything else becomes its ``str()``.

    Raises
    ------
    TypeError, ValueError
        When ``str()`` of an unknown object fails.

    Examples
    --------
    >>> to_cel({1: ("a", 2**70), "at": {"b"}})
    {'1': ['a', 1.1805916207174113e+21], 'at': ['b']}
    """
    kind = type(value)
    # exact types first: most values are one of these
    if kind is str or kind is float or kind is bool or value is None:
        return value
    if kind is int:
        return value if value in _INT64 else _as_double(value)
    if kind is dict or isinstance(value, Mapping):
        return {
            key if type(key) is str else str(key): to_cel(item)
            for key, item in value.items()
        }
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return [to_cel(item) for item in value]
    return _to_cel_other(value)


def _to_cel_other(value: Any) -> Any:
    """Convert what :func:`to_cel` does not meet often."""
    if isinstance(value, set | frozenset):
        try:
            ordered = sorted(value)
        except TypeError:
            ordered = list(value)
        return [to_cel(item) for item in ordered]
    if isinstance(value, datetime):
        # the interpreter reads a naive datetime in the machine's local time
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, timedelta | bytes):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return to_cel(int(value))
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _as_double(value: int) -> float:
    """Return an integer CEL's int64 cannot hold as a double, infinite if need be."""
    try:
        return float(value)
    except OverflowError:
        return -math.inf if value < 0 else math.inf
