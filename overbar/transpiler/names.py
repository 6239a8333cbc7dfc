"""Deterministic fresh names that never collide with a name the function already uses, and the
few syntax-tree helpers every pass needs."""

from __future__ import annotations

import ast
import keyword
from collections import deque
from typing import Any

# Builtins the generated code itself calls (the user's own names are seeded separately). A fixed
# list, not dir(builtins): that changes at run time (the REPL's `_`), and output must not.
GENERATED_CODE_BUILTINS = frozenset({"range", "slice", "len", "min"})


class NameAllocator:
    """Hands out names not yet taken; seeded with every name in the function and its scope."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()):
        self.taken = set(taken) | set(keyword.kwlist) | GENERATED_CODE_BUILTINS
        self.counters: dict[str, int] = {}

    def take(self, name: str) -> None:
        self.taken.add(name)

    def fresh(self, base: str) -> str:
        """``base`` itself if free, else ``base_2``, ``base_3``, ..."""
        if base not in self.taken:
            self.taken.add(base)
            return base
        return self.numbered(base + "_", start=2)

    def numbered(self, base: str, start: int = 1) -> str:
        """``base`` followed by the next free number: ``tmp1``, ``tmp2``, ..."""
        number = self.counters.get(base, start)
        while f"{base}{number}" in self.taken:
            number += 1
        self.counters[base] = number + 1
        name = f"{base}{number}"
        self.taken.add(name)
        return name


def names_in(tree: ast.AST) -> set[str]:
    """Every identifier that appears in ``tree`` as a name or a parameter (the function's
    own name too). Found without a generator, as ``names_loaded``: the passes that seed a
    name allocator ask it of whole functions."""
    found = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            found.add(node.id)
            continue  # its only node is its context
        if isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            found.add(node.name)
        push_children(stack, node)
    return found


def clone(node):
    """A deep copy of a syntax tree (or a list of them), several times faster than
    ``copy.deepcopy``, which the passes would otherwise spend a third of their time in.

    A node with no fields and no attributes (a context such as ``ast.Load()``, an operator
    such as ``ast.Add()``) holds nothing to change and is shared, not copied, as the
    parser's own trees share them: a third of a function's nodes, made and then kept alive
    (and scanned by the garbage collector) for nothing. A copy takes the node's fields and
    attributes (its ``__dict__`` at once, less what a pass may have cached on the node),
    then copies the fields that hold nodes."""
    kind = node.__class__
    if kind is list:
        return [clone(element) for element in node]
    keys = _KEYS.get(kind)
    if keys is None:
        if not isinstance(node, ast.AST):
            return node  # str, int, float, None: immutable
        keys = _KEYS[kind] = kind._fields + kind._attributes
    if not keys:
        return node
    copied = kind.__new__(kind)
    target = copied.__dict__
    target.update(node.__dict__)
    if len(target) != len(keys):  # a location missing, or something else set: not copied
        for key in [key for key in target if key not in keys]:
            del target[key]
    for key in kind._fields:
        value = target.get(key)
        value_kind = value.__class__
        if value_kind is list:
            target[key] = [clone(element) for element in value]
        elif value_kind in _KEYS:
            if _KEYS[value_kind]:
                target[key] = clone(value)
        elif isinstance(value, ast.AST):
            target[key] = clone(value)
    return copied


# A node class's fields and attributes, in order (what ``clone`` copies).
_KEYS: dict[type, tuple[str, ...]] = {}


def with_reverse_cloned(tree: ast.FunctionDef, forward_length: int) -> list[ast.stmt]:
    """The statements of a gradient function for a pass that rewrites its reverse sweep only:
    the forward sweep's shared (no copy: the pass leaves them as they are), the reverse
    sweep's cloned."""
    return list(tree.body[:forward_length]) + clone(tree.body[forward_length:])


def walk_breadth_first(node):
    """``ast.walk``: the same nodes in the same order (breadth first, each node's children in
    the order of its fields), about a third faster: it reads the fields itself instead of
    through ``ast.iter_child_nodes``'s two generators. The passes walk whole functions with
    it some forty times, so that the order of what they find is ``ast.walk``'s."""
    todo = deque([node])
    while todo:
        node = todo.popleft()
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                todo.append(value)
            elif isinstance(value, list):
                todo.extend([item for item in value if isinstance(item, ast.AST)])
        yield node


def statements_breadth_first(tree: ast.AST):
    """The statements among ``walk_breadth_first(tree)``'s nodes, in its order, found without
    visiting an expression: a statement is only ever in a block (``body``, ``orelse``,
    ``finalbody``) of a statement, an ``except`` clause or a ``case``, at the same depth as
    in the whole walk, and a breadth-first walk that leaves out nodes with no statement
    inside keeps the others in their order. For the passes that look at statements only, a
    tenth of the nodes."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], _HOLDS_STATEMENTS):
                todo.extend(value)
        if isinstance(node, ast.stmt):
            yield node


# What a block of statements holds: statements, ``except`` clauses, ``case`` clauses.
_HOLDS_STATEMENTS = (ast.stmt, ast.excepthandler, ast.match_case)


def fix_missing_locations(tree: ast.AST) -> ast.AST:
    """``ast.fix_missing_locations(tree)``: the same locations set on the same nodes (a node
    without a line or column takes its parent's, visiting parents before children in the
    same order), without its recursion through ``ast.iter_child_nodes``'s generators, which
    made it a tenth of a transformation. A node class has either all four location
    attributes or none; they are read and set in the node's ``__dict__`` (where ``ast``
    keeps them: ``end_lineno`` and ``end_col_offset`` default to None on the class)."""
    stack = [(tree, 1, 0, 1, 0)]
    pop, extend = stack.pop, stack.extend
    while stack:
        node, lineno, col_offset, end_lineno, end_col_offset = pop()
        source = node.__dict__
        if node._attributes:
            if "lineno" in source:
                lineno = source["lineno"]
            else:
                source["lineno"] = lineno
            if source.get("end_lineno") is None:
                source["end_lineno"] = end_lineno
            else:
                end_lineno = source["end_lineno"]
            if "col_offset" in source:
                col_offset = source["col_offset"]
            else:
                source["col_offset"] = col_offset
            if source.get("end_col_offset") is None:
                source["end_col_offset"] = end_col_offset
            else:
                end_col_offset = source["end_col_offset"]
        children = []
        for field in node._fields:
            value = source.get(field)
            if value.__class__ is list:
                children.extend([item for item in value if isinstance(item, ast.AST)])
            elif isinstance(value, ast.AST):
                children.append(value)
        if children:
            location = (lineno, col_offset, end_lineno, end_col_offset)
            extend([(child, *location) for child in reversed(children)])
    return tree


def walk(node):
    """Every node of a syntax tree, depth first: ``ast.walk``'s nodes (in another order),
    about twice as fast, which matters in the passes that walk each statement many times."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for field in current._fields:
            value = getattr(current, field, None)
            if isinstance(value, list):
                stack.extend([child for child in value if isinstance(child, ast.AST)])
            elif isinstance(value, ast.AST):
                stack.append(value)


def names_loaded(node: ast.AST) -> list[str]:
    """The names ``node`` reads (``ast.Name`` nodes in a ``Load`` context), in ``walk``'s
    order, found without a generator: a pass that asks it of every statement (``simplify``,
    a few times over) spent a fifth of its time resuming ``walk``."""
    return names_with(node, ast.Load)


def names_stored(node: ast.AST) -> list[str]:
    """The names ``node`` binds (``ast.Name`` nodes in a ``Store`` context), as
    ``names_loaded``."""
    return names_with(node, ast.Store)


def push_children(stack: list, node: ast.AST) -> None:
    """Push ``node``'s child nodes onto ``stack``: the step of the walks here, which use a
    list as their stack instead of ``ast.iter_child_nodes``'s generators."""
    source = node.__dict__
    for field in node._fields:
        value = source.get(field)
        if value.__class__ is list:
            stack.extend([child for child in value if isinstance(child, ast.AST)])
        elif isinstance(value, ast.AST):
            stack.append(value)


def names_with(node: ast.AST, context: type | None = None) -> list[str]:
    """The ids of the ``ast.Name`` nodes under ``node`` (those in a ``context``, if given),
    in ``walk``'s order, without a generator."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name):
            if context is None or isinstance(current.ctx, context):
                found.append(current.id)
            continue  # its only node is its context
        push_children(stack, current)
    return found


def statements_depth_first(node):
    """The statements among ``walk(node)``'s nodes, in its order, found without visiting an
    expression (which holds no statement): ``walk`` visits a node's whole subtree before the
    nodes pushed ahead of it, so leaving out the subtrees that hold no statement leaves the
    others in their order. For the passes that look for assignments and loops, a tenth of
    the nodes (as ``statements_breadth_first`` is for ``walk_breadth_first``)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.stmt):
            yield current
        for field in current._fields:
            value = getattr(current, field, None)
            if isinstance(value, list) and value and isinstance(value[0], _HOLDS_STATEMENTS):
                stack.extend(value)


class Transformer(ast.NodeTransformer):
    """``ast.NodeTransformer``: the same visits in the same order, the same rewrites, at about
    half its cost, for the passes that rewrite every statement of a sweep.

    Two differences in how, none in what: the visitor method of a node class is looked up
    once per transformer class (not by building its name at every node), and the fields are
    read from the node's ``__dict__`` (a field absent there is None or missing, which
    ``generic_visit`` leaves alone either way) instead of through ``ast.iter_fields``'s
    generator. A context or an operator held in a field (``Name.ctx``, ``BinOp.op``), which
    has no fields of its own, is visited only where the transformer has a visitor for it:
    otherwise the visit would give it back unchanged."""

    def visit(self, node: ast.AST) -> Any:
        visitor = _visitor(self.__class__, node.__class__)
        if visitor is None:
            return self.generic_visit(node)
        return visitor(self, node)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        source = node.__dict__
        for field in node._fields:
            old_value = source.get(field)
            if isinstance(old_value, list):
                new_values = []
                for value in old_value:
                    if isinstance(value, ast.AST):
                        value = self.visit(value)
                        if value is None:
                            continue
                        if not isinstance(value, ast.AST):
                            new_values.extend(value)
                            continue
                    new_values.append(value)
                old_value[:] = new_values
            elif isinstance(old_value, ast.AST):
                kind = old_value.__class__
                leaf = not (kind._fields or kind._attributes)
                if leaf and _visitor(self.__class__, kind) is None:
                    continue  # a context or an operator, which the visit gives back
                new_node = self.visit(old_value)
                if new_node is None:
                    delattr(node, field)
                elif new_node is not old_value:
                    setattr(node, field, new_node)
        return node


# (transformer class, node class) -> the transformer's visitor of that node class, or None.
_VISITORS: dict[tuple[type, type], Any] = {}


def _visitor(transformer: type, kind: type) -> Any:
    """The method ``ast.NodeVisitor.visit`` would call for a node of class ``kind``, or None
    where that is ``generic_visit``: so too ``NodeVisitor``'s own ``visit_Constant`` where
    the transformer has none of the old visitors it looks for (``visit_Num`` and the like)."""
    key = (transformer, kind)
    try:
        return _VISITORS[key]
    except KeyError:
        found = getattr(transformer, "visit_" + kind.__name__, None)
        if found is _CONSTANT_VISITOR and not any(
            hasattr(transformer, name) for name in _OLD_CONSTANT_VISITORS
        ):
            found = None
        _VISITORS[key] = found
        return found


_CONSTANT_VISITOR = ast.NodeVisitor.visit_Constant
_OLD_CONSTANT_VISITORS = (
    "visit_Num",
    "visit_Str",
    "visit_Bytes",
    "visit_NameConstant",
    "visit_Ellipsis",
)


class ReplaceNames(Transformer):
    """Replace every read of the names in ``values`` by (a copy of) its expression."""

    def __init__(self, values: dict[str, ast.expr]):
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.values and isinstance(node.ctx, ast.Load):
            return clone(self.values[node.id])
        return node


def bindings(statements: list[ast.stmt]) -> dict[str, list[ast.stmt]]:
    """The assignments and for loops that bind each name (every name in their targets)."""
    found: dict[str, list[ast.stmt]] = {}
    for node in (n for statement in statements for n in statements_depth_first(statement)):
        if isinstance(node, ast.Assign | ast.For):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in (n for target in targets for n in walk(target)):
                if isinstance(name, ast.Name):
                    found.setdefault(name.id, []).append(node)
    return found


def names_read(statement: ast.stmt) -> list[str]:
    """Names a simple statement reads (a compound one: those of its header)."""
    if isinstance(statement, ast.For):
        parts = [statement.iter]
    elif isinstance(statement, ast.If | ast.While):
        parts = [statement.test]
    else:
        parts = [statement]
    # walk_breadth_first's loads, in its order, without the generator (asked of every line)
    found = []
    todo = deque(parts)
    while todo:
        node = todo.popleft()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                found.append(node.id)
            continue  # its only node is its context
        source = node.__dict__
        for field in node._fields:
            value = source.get(field)
            if isinstance(value, ast.AST):
                todo.append(value)
            elif isinstance(value, list):
                todo.extend([item for item in value if isinstance(item, ast.AST)])
    return found
