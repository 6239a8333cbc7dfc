"""Unpacking of known size: ``f(*xs)`` and ``f(**kw)`` written out element by element.

A call that unpacks a tuple or list whose length is known when compiling, or a dict whose
keys are, passes a fixed set of arguments: this pass writes them out, so that the rest of the
pipeline sees a call of named arguments. Before and after::

    def symmetrized(*args, **kwargs):           (specialised on a call of three arguments
        args = list(args)                        and a keyword, ``parse.with_arity``)
        args[2] = symmetrize(args[2])           args = list(args)
        return fun(*args, **kwargs)             args[2] = symmetrize(args[2])
                                                return fun(args[0], args[1], args[2],
                                                           allow_singular=kwargs["allow_singular"])

Identity: ``f(*xs)`` with ``len(xs) == n`` passes ``xs[0], ..., xs[n - 1]``; ``f(**kw)`` with
the keys ``k1, ..., km`` (in the dict's order) passes ``k1=kw["k1"], ..., km=kw["km"]``, and
``[*xs, y]`` or ``(*xs, y)`` displays the same elements. A key bound to a literal constant is
passed as that constant (a dict of constants is read once, when compiled). Side conditions: the
length (or the keys) is that of the value the name holds when the call runs, which this pass
knows only from lines at the top level of the function, in order:

- ``xs = (a, b)`` or ``[a, b]`` (a display, its own starred parts of known length included),
  ``list(v)`` or ``tuple(v)`` of such a value, or ``v[i:j]`` of one, by literal bounds;
- ``kw = {"k": v, ...}`` with literal string keys, or ``dict(k=v, ...)``;
- after which ``xs[i] = v`` keeps the length, ``xs.append(v)`` adds one, ``kw["k"] = v`` adds
  the key ``k`` (where it is new);
- any other binding of the name, or of one bound to it (``ys = xs``), and any change of it
  inside a branch or a loop, forgets what is known (a call inside the branch or loop is
  written out only where the name does not change there).

What is not written out stays as it is, and the fence refuses it at its line.

Invariant established: every starred argument or display element, and every ``**`` argument,
whose size is known as above is written out.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field, replace

from overbar.transpiler.fence import MUTATING_METHODS
from overbar.transpiler.names import walk_breadth_first
from overbar.transpiler.parse import ParsedFunction


def with_known_unpacking(parsed: ParsedFunction) -> ParsedFunction:
    """``parsed`` with each unpacking of known size written out (above); unchanged where it
    has none."""
    if not any(_unpacks(node) for node in walk_breadth_first(parsed.tree)):
        return parsed
    tree = copy.deepcopy(parsed.tree)
    tree.body = _Unpacker(parsed).block(tree.body, _Known())
    return replace(parsed, tree=tree)


def _unpacks(node: ast.AST) -> bool:
    if isinstance(node, ast.Starred) and isinstance(node.ctx, ast.Load):
        return True
    return isinstance(node, ast.Call) and any(k.arg is None for k in node.keywords)


def _unseen_lists(tree: ast.FunctionDef) -> set[str]:
    """The local names no other name can see the value of: every read of one is an element
    (``xs[i]``), its length (``len(xs)``), a copy (``list(xs)``, ``tuple(xs)``) or unpacked
    (``*xs``). A write into such a list may be a new list bound to the name."""
    parents = {
        id(child): node
        for node in walk_breadth_first(tree)
        for child in ast.iter_child_nodes(node)
    }
    stored = {
        node.id
        for node in walk_breadth_first(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    parameters = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    seen = set(parameters)
    for node in walk_breadth_first(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Subscript) and parent.value is node:
            continue
        if isinstance(parent, ast.Starred):
            continue
        if (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, ast.Name)
            and parent.func.id in ("len", "list", "tuple")
            and parent.args == [node]
        ):
            continue
        seen.add(node.id)
    return stored - seen


@dataclass
class _Known:
    """What is known of the names bound at the top level so far: a sequence's length, and a
    dict's keys in order, each with the literal it holds (or None: read it from the dict)."""

    lengths: dict[str, int] = field(default_factory=dict)
    keys: dict[str, dict[str, ast.Constant | None]] = field(default_factory=dict)
    lists: set[str] = field(default_factory=set)  # of the lengths, those of lists

    def forget(self, name: str) -> None:
        self.lengths.pop(name, None)
        self.keys.pop(name, None)
        self.lists.discard(name)

    def without(self, names: set[str]) -> _Known:
        return _Known(
            {n: v for n, v in self.lengths.items() if n not in names},
            {n: dict(v) for n, v in self.keys.items() if n not in names},
            self.lists - names,
        )


class _Unpacker:
    def __init__(self, parsed: ParsedFunction):
        self.namespace = parsed.namespace
        self.local_names = {
            node.id
            for node in walk_breadth_first(parsed.tree)
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
        } | {a.arg for a in ast.walk(parsed.tree.args) if isinstance(a, ast.arg)}
        self.unseen = _unseen_lists(parsed.tree)

    def block(self, body: list[ast.stmt], known: _Known) -> list[ast.stmt]:
        written = []
        for statement in body:
            if isinstance(statement, ast.If | ast.For | ast.While):
                for name in _changed_within(statement):
                    known.forget(name)
                written.append(_Writer(self, known).visit(statement))
                continue
            statement = _Writer(self, known).visit(statement)
            rebound = self.element_written(statement, known)
            written.extend(rebound or [statement])
            self.learn(rebound[-1] if rebound else statement, known)
        return written

    def element_written(self, statement: ast.stmt, known: _Known) -> list[ast.stmt] | None:
        """``xs[k] = v`` into a list of known length that no other name sees, at an index
        known when compiling, as ``xs = [xs[0], ..., v, ..., xs[n - 1]]`` (preceded by
        ``assert k == <its value>`` where ``k`` is a name read from outside the function);
        None for any other line."""
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Subscript)
            and isinstance(statement.targets[0].value, ast.Name)
        ):
            return None
        target = statement.targets[0]
        name, index = target.value.id, target.slice
        if name not in known.lists or name not in self.unseen:
            return None
        length = known.lengths[name]
        lines: list[ast.stmt] = []
        if _literal_int(index) is not None:
            position = _literal_int(index)
        elif (
            isinstance(index, ast.Name)
            and index.id not in self.local_names
            and type(value := self.namespace.lookup(index.id)) is int
        ):
            position = value  # its value now, checked when the function runs
            check = ast.Assert(
                test=ast.Compare(
                    left=ast.Name(id=index.id, ctx=ast.Load()),
                    ops=[ast.Eq()],
                    comparators=[ast.Constant(value)],
                ),
                msg=ast.Constant(f"differentiated for {index.id} == {value}"),
            )
            lines.append(check)
        else:
            return None
        if not -length <= position < length:
            return None  # Python's IndexError: the fence refuses the write
        position %= length
        elements = [
            ast.Subscript(
                value=ast.Name(id=name, ctx=ast.Load()), slice=ast.Constant(i), ctx=ast.Load()
            )
            for i in range(length)
        ]
        elements[position] = statement.value
        rebound = ast.Assign(
            targets=[ast.Name(id=name, ctx=ast.Store())],
            value=ast.List(elts=elements, ctx=ast.Load()),
        )
        lines.append(rebound)
        return [ast.fix_missing_locations(ast.copy_location(line, statement)) for line in lines]

    def is_builtin(self, node: ast.expr, function: object) -> bool:
        return (
            isinstance(node, ast.Name)
            and node.id not in self.local_names
            and self.namespace.lookup(node.id) is function
        )

    def learn(self, statement: ast.stmt, known: _Known) -> None:
        """What ``statement`` (at the top level) binds or changes, in ``known``."""
        if isinstance(statement, ast.Assign):
            value = statement.value
            if isinstance(value, ast.Name):  # an alias: a change through one is the other's
                known.forget(value.id)
            for name in _changed_within(value):
                known.forget(name)
            for target in statement.targets:
                if isinstance(target, ast.Name) and len(statement.targets) == 1:
                    self.bind(target.id, value, known)
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    self.write(target.value.id, target.slice, value, known)
                else:
                    for node in walk_breadth_first(target):
                        if isinstance(node, ast.Name):
                            known.forget(node.id)
            return
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)
            and isinstance(statement.value.func.value, ast.Name)
        ):
            name, method = statement.value.func.value.id, statement.value.func.attr
            if method == "append" and name in known.lengths and len(statement.value.args) == 1:
                known.lengths[name] += 1
            else:
                known.forget(name)
            return
        for name in _changed_within(statement):
            known.forget(name)

    def bind(self, name: str, value: ast.expr, known: _Known) -> None:
        length, keys = self.length_of(value, known), self.keys_of(value, known)
        known.forget(name)
        if length is not None:
            known.lengths[name] = length
            if isinstance(value, ast.List) or (
                isinstance(value, ast.Call) and self.is_builtin(value.func, list)
            ):
                known.lists.add(name)
        if keys is not None:
            known.keys[name] = keys

    def write(self, name: str, index: ast.expr, value: ast.expr, known: _Known) -> None:
        if name in known.lengths and not isinstance(index, ast.Slice):
            return  # xs[i] = v: the same length
        if name in known.keys and isinstance(index, ast.Constant) and isinstance(index.value, str):
            known.keys[name][index.value] = _literal(value)
            return
        known.forget(name)

    def length_of(self, value: ast.expr, known: _Known) -> int | None:
        """The length of the sequence ``value`` makes, where it is known."""
        if isinstance(value, ast.Tuple | ast.List):
            total = 0
            for element in value.elts:
                if isinstance(element, ast.Starred):
                    inner = self.length_of(element.value, known)
                    if inner is None:
                        return None
                    total += inner
                else:
                    total += 1
            return total
        if isinstance(value, ast.Name):
            return known.lengths.get(value.id)
        if (
            isinstance(value, ast.Call)
            and (self.is_builtin(value.func, list) or self.is_builtin(value.func, tuple))
            and len(value.args) == 1
            and not value.keywords
        ):
            return self.length_of(value.args[0], known)
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Slice):
            length, chosen = self.length_of(value.value, known), _sliced(value.slice)
            if length is None or chosen is None:
                return None
            return len(range(length)[chosen])
        return None

    def keys_of(self, value: ast.expr, known: _Known) -> dict[str, ast.Constant | None] | None:
        """The keys of the dict ``value`` makes, in order, where they are known."""
        if isinstance(value, ast.Dict):
            keys: dict[str, ast.Constant | None] = {}
            for key, item in zip(value.keys, value.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    return None
                keys[key.value] = _literal(item)
            return keys
        if isinstance(value, ast.Name) and value.id in known.keys:
            return dict(known.keys[value.id])
        if (
            isinstance(value, ast.Call)
            and self.is_builtin(value.func, dict)
            and not value.args
            and all(k.arg is not None for k in value.keywords)
        ):
            return {k.arg: _literal(k.value) for k in value.keywords}
        return None


class _Writer(ast.NodeTransformer):
    """Writes out, in one statement, the unpackings ``known`` says the size of."""

    def __init__(self, unpacker: _Unpacker, known: _Known):
        self.unpacker, self.known = unpacker, known

    def elements(self, items: list[ast.expr]) -> list[ast.expr]:
        written = []
        for item in items:
            item = self.visit(item)
            if isinstance(item, ast.Starred) and isinstance(item.ctx, ast.Load):
                spelled = self.spelled(item.value)
                if spelled is not None:
                    written.extend(spelled)
                    continue
            written.append(item)
        return written

    def spelled(self, value: ast.expr) -> list[ast.expr] | None:
        """The elements of the sequence ``value``, one expression each, where known."""
        if isinstance(value, ast.Tuple | ast.List) and not any(
            isinstance(e, ast.Starred) for e in value.elts
        ):
            return list(value.elts)
        name, chosen = value, None
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Slice):
            name, chosen = value.value, _sliced(value.slice)
            if chosen is None:
                return None
        if not (isinstance(name, ast.Name) and name.id in self.known.lengths):
            return None
        indices = range(self.known.lengths[name.id])
        return [
            ast.copy_location(
                ast.Subscript(
                    value=ast.Name(id=name.id, ctx=ast.Load()),
                    slice=ast.Constant(index),
                    ctx=ast.Load(),
                ),
                value,
            )
            for index in (indices if chosen is None else indices[chosen])
        ]

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.func = self.visit(node.func)
        node.args = self.elements(node.args)
        keywords = []
        for keyword in node.keywords:
            keyword.value = self.visit(keyword.value)
            spelled = self.keywords(keyword.value) if keyword.arg is None else None
            if spelled is not None:
                keywords.extend(ast.copy_location(k, keyword) for k in spelled)
                continue
            keywords.append(keyword)
        names = [k.arg for k in keywords if k.arg is not None]
        if len(names) == len(set(names)):  # else Python's TypeError: the fence refuses it
            node.keywords = keywords
        return node

    def keywords(self, value: ast.expr) -> list[ast.keyword] | None:
        """The keywords ``**value`` passes, one each, where its keys are known."""
        if isinstance(value, ast.Name) and value.id in self.known.keys:
            entries = self.known.keys[value.id]
            spelled = [ast.keyword(arg=k, value=_read(value, k, v)) for k, v in entries.items()]
        elif isinstance(value, ast.Dict) and all(
            isinstance(key, ast.Constant) and isinstance(key.value, str) for key in value.keys
        ):
            entries = {key.value: item for key, item in zip(value.keys, value.values, strict=True)}
            spelled = [ast.keyword(arg=k, value=v) for k, v in entries.items()]
        else:
            return None
        return spelled if all(k.arg.isidentifier() for k in spelled) else None

    def visit_Tuple(self, node: ast.Tuple) -> ast.AST:
        if isinstance(node.ctx, ast.Load):
            node.elts = self.elements(node.elts)
            return node
        return self.generic_visit(node)

    visit_List = visit_Tuple

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node  # its parameters may shadow the names known

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return node  # lifted to a helper of its own, which is transformed on its own

    def comprehension(self, node: ast.AST) -> ast.AST:
        targets = {
            n.id
            for generator in node.generators
            for n in walk_breadth_first(generator.target)
            if isinstance(n, ast.Name)
        }
        outer, self.known = self.known, self.known.without(targets)
        try:
            return self.generic_visit(node)
        finally:
            self.known = outer

    visit_ListComp = visit_GeneratorExp = visit_SetComp = visit_DictComp = comprehension


def _read(value: ast.Name, key: str, literal: ast.Constant | None) -> ast.expr:
    if literal is not None:
        return ast.copy_location(ast.Constant(literal.value), value)
    return ast.copy_location(
        ast.Subscript(
            value=ast.Name(id=value.id, ctx=ast.Load()), slice=ast.Constant(key), ctx=ast.Load()
        ),
        value,
    )


def _literal(value: ast.expr) -> ast.Constant | None:
    """``value`` where it is a literal constant (a dict's entry passed as itself), else None."""
    if isinstance(value, ast.Constant) and not isinstance(value.value, bytes):
        return value
    return None


def _changed_within(statement: ast.stmt) -> set[str]:
    """The names ``statement`` binds, writes into or calls a changing method of
    (``xs.append(v)``), anywhere in it."""
    changed = set()
    for node in walk_breadth_first(statement):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            changed.add(node.id)
        elif isinstance(node, ast.Subscript | ast.Attribute) and not isinstance(
            node.ctx, ast.Load
        ):
            root = node.value
            while isinstance(root, ast.Subscript | ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                changed.add(root.id)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.attr in MUTATING_METHODS
        ):
            changed.add(node.func.value.id)
    return changed


def _literal_int(node: ast.expr) -> int | None:
    """The integer ``node`` spells (``2``, ``-1``), or None."""
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _sliced(part: ast.Slice) -> slice | None:
    """The slice ``part`` spells with literal integers (``1:``, ``:-1``, ``::2``), or None."""
    bounds = [part.lower, part.upper, part.step]
    values = [None if b is None else _literal_int(b) for b in bounds]
    if any(b is not None and v is None for b, v in zip(bounds, values, strict=True)):
        return None
    if values[2] == 0:
        return None
    return slice(*values)
