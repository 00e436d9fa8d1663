"""LightGBM model text checked completely before LightGBM reads it.

LightGBM's text parser trusts what it reads: a child index out of range, a
tree that loops back on itself or a split on a feature past the last one
makes the process crash (a segmentation fault, or an abort from a parser
thread) instead of raising an error. :func:`check_model_text` reads the text
the way LightGBM does and refuses anything but what trustwatch itself
writes: one binary model (``objective=binary sigmoid:1``) of numerical splits
on the features it announces, each tree a proper binary tree of finite
values. Categorical splits and linear trees are refused: trustwatch trains
neither.

Both saved model formats use it (the URL model's trees, the node scorer's
boosters); it sits at the top of the package, beside :mod:`trustwatch.errors`,
so that both may import it.
"""

from __future__ import annotations

import math
import re

from trustwatch.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_LEAVES", "check_model_text"]

#: Most leaves a tree may have: LightGBM's own limit for ``num_leaves``.
MAX_LEAVES = 131_072
#: Deepest leaf a tree may have. SHAP values (``pred_contrib``) need memory
#: growing with the square of the depth; trustwatch's trees have 7 (node
#: scorer) or 31 (URL model) leaves, so a few tens of levels at most.
MAX_DEPTH = 1_000

_HEADER_KEYS = (
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "feature_names",
    "feature_infos",
    "tree_sizes",
)
_TREE_KEYS = (
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
    "is_linear",
    "shrinkage",
)
_INTERNAL_FLOATS = ("split_gain", "threshold", "internal_value", "internal_weight")
_INTERNAL_INTS = ("split_feature", "decision_type", "left_child", "right_child")
#: Numerical splits only (bit 0 clear), default side either (bit 1), missing
#: values none, zero or NaN (bits 2-3: 0, 1 or 2).
_DECISION_TYPES = frozenset({0, 2, 4, 6, 8, 10})
_INT = re.compile(r"-?[0-9]{1,10}")
_FLOAT = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,4})?")
_INT32 = 2**31 - 1
_PRINTABLE = re.compile(r"[\x20-\x7e\n]*")
_FEATURE_INFO = re.compile(r"none|\[([^:\[\]]+):([^:\[\]]+)\]")
_PARAMETER = re.compile(r"\[[a-z0-9_]+: [^\[\]:\"\\]*\]")
_IMPORTANCE = re.compile(r"[!-<>-~]+=[0-9.eE+-]+")
_TAIL_END = "pandas_categorical:null\n"


class _Damaged(Exception):
    """What is wrong with the text, in words."""


def check_model_text(text: str, n_features: int, *, what: str, hint: str) -> None:
    """Refuse a LightGBM model text that is not a model trustwatch wrote.

    Parameters
    ----------
    text
        The text :meth:`lightgbm.Booster.model_to_string` wrote.
    n_features
        Columns the model must read: the features its file says it uses.
    what
        Names the model in the message, such as ``"URL model PATH"``.
    hint
        What to do, ending the message.

    Raises
    ------
    ConfigError
        ``"<what> is damaged: <reason>; hint: <hint>"``, naming the
        first fault: a header entry, a tree's field (lengths, numbers that are
        not finite, a child index out of range, a node reached twice or not
        at all, a split on a feature past the last one, a split type
        trustwatch does not write) or the sections after the trees.
    """
    try:
        _check(text, n_features)
    except _Damaged as error:
        raise ConfigError(f"{what} is damaged: {error}; hint: {hint}") from None


def _check(text: str, n_features: int) -> None:
    if not _PRINTABLE.fullmatch(text):
        raise _Damaged("it holds characters a LightGBM model text never does")
    end_of_header = text.find("\n\n")
    if end_of_header < 0 or not text.startswith("tree\n"):
        raise _Damaged("no model header")
    header = _key_values(text[len("tree\n") : end_of_header].split("\n"), "header")
    if tuple(header) != _HEADER_KEYS:
        raise _Damaged(f"header entries {list(header)}, expected {list(_HEADER_KEYS)}")
    sizes = _check_header(header, n_features)
    at = end_of_header + 2
    for index, size in enumerate(sizes):
        block = text[at : at + size]
        _check_tree(block, index, n_features)
        at += size
    _check_tail(text[at:])


def _key_values(lines: list[str], where: str) -> dict[str, str]:
    """``key=value`` lines as a dict; a line without ``=`` or a key twice fails."""
    found: dict[str, str] = {}
    for line in lines:
        key, sign, value = line.partition("=")
        if not sign or not key or "=" in value:
            raise _Damaged(f"{where}: line {line[:40]!r} is not key=value")
        if key in found:
            raise _Damaged(f"{where}: {key} is given twice")
        found[key] = value
    return found


def _check_header(header: dict[str, str], n_features: int) -> list[int]:
    """Check the header against the expected feature count; return tree sizes."""
    fixed = {
        "version": "v4",
        "num_class": "1",
        "num_tree_per_iteration": "1",
        "label_index": "0",
        "objective": "binary sigmoid:1",
        "max_feature_idx": str(n_features - 1),
    }
    for key, expected in fixed.items():
        if header[key] != expected:
            raise _Damaged(f"header {key}={header[key][:40]!r}, expected {expected}")
    names = _tokens(header["feature_names"])
    if len(names) != n_features:
        raise _Damaged(
            f"{len(names)} feature names for max_feature_idx={n_features - 1}"
        )
    infos = _tokens(header["feature_infos"])
    if len(infos) != n_features:
        raise _Damaged(
            f"{len(infos)} feature infos for max_feature_idx={n_features - 1}"
        )
    for info in infos:
        match = _FEATURE_INFO.fullmatch(info)
        if match is None or (
            match.group(1) is not None
            and not all(_finite(match.group(i)) for i in (1, 2))
        ):
            raise _Damaged(f"feature info {info[:40]!r} is not a numeric range")
    sizes = _ints(header["tree_sizes"], "tree_sizes")
    if not sizes or any(size <= 0 for size in sizes):
        raise _Damaged("tree_sizes must name one positive size per tree")
    return sizes


def _check_tree(block: str, index: int, n_features: int) -> None:
    """Check one ``Tree=`` block, exactly as long as ``tree_sizes`` says."""
    where = f"tree {index}"
    head = f"Tree={index}\n"
    if not block.startswith(head) or not block.endswith("\n\n\n"):
        raise _Damaged(
            f"{where} does not fill the {len(block)} characters tree_sizes gives it"
        )
    fields = _key_values(block[len(head) : -3].split("\n"), where)
    if tuple(fields) != _TREE_KEYS:
        raise _Damaged(f"{where}: fields {list(fields)}, expected {list(_TREE_KEYS)}")
    leaves = _one_int(fields["num_leaves"], f"{where}: num_leaves")
    if not 1 <= leaves <= MAX_LEAVES:
        raise _Damaged(f"{where}: num_leaves={leaves}, expected 1 to {MAX_LEAVES}")
    if fields["num_cat"] != "0":
        raise _Damaged(
            f"{where}: categorical splits (num_cat), which trustwatch never writes"
        )
    if fields["is_linear"] != "0":
        raise _Damaged(f"{where}: a linear tree, which trustwatch never writes")
    _floats(fields["shrinkage"], f"{where}: shrinkage", 1)
    _floats(fields["leaf_value"], f"{where}: leaf_value", leaves)
    if leaves == 1:
        # LightGBM reads the leaf value only; the rest is empty or one entry
        for key in _INTERNAL_FLOATS + _INTERNAL_INTS + ("internal_count",):
            if fields[key]:
                raise _Damaged(f"{where}: one leaf, but {key} is not empty")
        for key in ("leaf_weight", "leaf_count"):
            if len(_tokens(fields[key])) > 1:
                raise _Damaged(f"{where}: one leaf, but {key} has several entries")
        _floats(fields["leaf_weight"], f"{where}: leaf_weight", None)
        _counts(fields["leaf_count"], f"{where}: leaf_count", None)
        return
    _floats(fields["leaf_weight"], f"{where}: leaf_weight", leaves)
    _counts(fields["leaf_count"], f"{where}: leaf_count", leaves)
    _counts(fields["internal_count"], f"{where}: internal_count", leaves - 1)
    for key in _INTERNAL_FLOATS:
        _floats(fields[key], f"{where}: {key}", leaves - 1)
    ints = {key: _ints(fields[key], f"{where}: {key}") for key in _INTERNAL_INTS}
    for key, values in ints.items():
        if len(values) != leaves - 1:
            raise _Damaged(
                f"{where}: {key} has {len(values)} entries, num_leaves={leaves} "
                f"needs {leaves - 1}"
            )
    for feature in ints["split_feature"]:
        if not 0 <= feature < n_features:
            raise _Damaged(
                f"{where}: a split on feature {feature}, outside the features "
                f"0 to {n_features - 1}"
            )
    for decision in ints["decision_type"]:
        if decision not in _DECISION_TYPES:
            raise _Damaged(
                f"{where}: decision_type {decision} (a categorical or unknown "
                "split, which trustwatch never writes)"
            )
    _check_shape(ints["left_child"], ints["right_child"], leaves, where)


def _check_shape(left: list[int], right: list[int], leaves: int, where: str) -> None:
    """Every node reached exactly once from the root, all indices in range."""
    seen_nodes = [False] * (leaves - 1)
    seen_leaves = [False] * leaves
    seen_nodes[0] = True
    stack = [(0, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise _Damaged(f"{where}: deeper than {MAX_DEPTH} levels")
        for child in (left[node], right[node]):
            if child >= 0:
                if child >= leaves - 1:
                    raise _Damaged(
                        f"{where}: child {child} of node {node} is not a node "
                        f"(0 to {leaves - 2})"
                    )
                if seen_nodes[child]:
                    raise _Damaged(
                        f"{where}: node {child} is reached twice (a cycle or a "
                        "shared branch)"
                    )
                seen_nodes[child] = True
                stack.append((child, depth + 1))
            else:
                leaf = ~child
                if leaf >= leaves:
                    raise _Damaged(
                        f"{where}: child {child} of node {node} is not a leaf "
                        f"(~0 to ~{leaves - 1})"
                    )
                if seen_leaves[leaf]:
                    raise _Damaged(f"{where}: leaf {leaf} is reached twice")
                seen_leaves[leaf] = True
    if not all(seen_nodes) or not all(seen_leaves):
        raise _Damaged(f"{where}: some nodes or leaves are not reached from the root")


def _check_tail(tail: str) -> None:
    """The sections after the trees: importances, parameters, pandas' line."""
    if not tail.startswith("end of trees\n") or not tail.endswith("\n" + _TAIL_END):
        raise _Damaged("the trees are not followed by 'end of trees' (or the end)")
    lines = tail[len("end of trees\n") : -len(_TAIL_END)].split("\n")
    section = "importances"
    allowed = {"importances": _IMPORTANCE, "parameters": _PARAMETER}
    for line in lines:
        if not line:
            continue
        if section == "importances" and line == "feature_importances:":
            continue
        if section == "importances" and line == "parameters:":
            section = "parameters"
        elif section == "parameters" and line == "end of parameters":
            section = "done"
        elif section not in allowed or not allowed[section].fullmatch(line):
            raise _Damaged(f"after the trees: line {line[:40]!r} is unexpected")
    if section == "parameters":
        raise _Damaged("after the trees: the parameters do not end")


def _tokens(value: str) -> list[str]:
    """Entries separated by single spaces; an empty value has none."""
    if not value:
        return []
    tokens = value.split(" ")
    if not all(tokens):
        raise _Damaged("an array holds an empty entry")
    return tokens


def _one_int(value: str, where: str) -> int:
    values = _ints(value, where)
    if len(values) != 1:
        raise _Damaged(f"{where} is not one whole number")
    return values[0]


def _ints(value: str, where: str) -> list[int]:
    out = []
    for token in _tokens(value):
        if not _INT.fullmatch(token) or abs(int(token)) > _INT32:
            raise _Damaged(f"{where}: {token[:20]!r} is not a whole number")
        out.append(int(token))
    return out


def _counts(value: str, where: str, expected: int | None) -> None:
    counts = _ints(value, where)
    if expected is not None and len(counts) != expected:
        raise _Damaged(f"{where} has {len(counts)} entries, expected {expected}")
    if any(count < 0 for count in counts):
        raise _Damaged(f"{where}: a negative count")


def _finite(token: str) -> bool:
    return _FLOAT.fullmatch(token) is not None and math.isfinite(float(token))


def _floats(value: str, where: str, expected: int | None) -> None:
    tokens = _tokens(value)
    if expected is not None and len(tokens) != expected:
        raise _Damaged(f"{where} has {len(tokens)} entries, expected {expected}")
    for token in tokens:
        if not _finite(token):
            raise _Damaged(f"{where}: {token[:20]!r} is not a finite number")
