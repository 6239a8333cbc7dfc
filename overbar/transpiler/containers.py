"""Dicts walked through their keys: loops over a dict, its keys, values and items.

The normal form walks a loop's iterable by position (``for v in xs`` becomes
``for i in range(len(xs)): v = xs[i]``), which for a dict would read its values at the keys 0,
1, ... instead of taking its keys. Where a name is known to be a dict with known keys (a dict
argument: the adjoint is specialised on its structure, its keys included), this pass writes
what Python does with the keys spelled out, so the sweep sees reads by key and tuples it knows.
Before and after, for a dict ``params`` with the keys "W" and "b"::

    tmp1 = params.items()            tmp2 = params["W"]
                                     tmp3 = ("W", tmp2)
                                     tmp4 = params["b"]
                                     tmp5 = ("b", tmp4)
                                     tmp1 = (tmp3, tmp5)
    k = params[index1]               k = ("W", "b")[index1]          (for k in params:)
    tmp6 = sorted(params)            tmp6 = sorted(("W", "b"))
    tmp7 = params.get("W", 0.0)      tmp7 = params["W"]
    tmp8 = params["W"]               W = params["W"]                 (a temporary bound once)

``params.keys()`` is the tuple of the keys, ``params.values()`` the tuple of the values read by
key. Identity: each is what Python computes, in a dict's order (its keys' insertion order, the
order the structure records). Side conditions: the dict's keys are known and it is not changed
in the function (writes into an argument are refused before this pass). Invariant established:
no dict with known keys is walked by position, unpacked, or has another method called (those
are refused, with the user's line), and no loop walks a dict that is a global by position (its
keys may change between calls: refused; pass it as an argument), nor a dict made in the function
(``dict(...)``: its keys are known only when it runs).
"""

from __future__ import annotations

import ast
import keyword
from dataclasses import replace

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.names import (
    NameAllocator,
    fix_missing_locations,
    statements_breadth_first,
    walk_breadth_first,
)
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import MISSING, ParsedFunction
from overbar.transpiler.shapes import Shapes

_TAKING_KEYS = frozenset({"sorted", "list", "tuple"})  # of a dict: its keys


def walk_dicts(
    parsed: ParsedFunction, form: NormalForm, shapes: Shapes, in_order: str | None = None
) -> NormalForm:
    """``form`` with the dicts whose keys are known walked through their keys (above); raises
    ``UnsupportedSyntaxError`` where that cannot be done. A value made in the function whose
    kind is not known now (a helper's or a method's result), walked by position, is read
    through the runtime's ``in_order`` (the name it is bound to), which refuses a dict when
    the loop runs: by position, a dict's values would be read as its keys."""
    dicts = {
        name: shape.keys
        for name, shape in shapes.items()
        if getattr(shape, "mapping", False) and shape.keys is not None
    }
    unknown = {  # dicts made in the function (dict(...)): their keys are known at run time only
        name
        for name, shape in shapes.items()
        if getattr(shape, "mapping", False) and shape.keys is None
    }
    loops = [
        node
        for node in statements_breadth_first(form.tree)
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name)
    ]
    user_names = (
        {node.id for node in walk_breadth_first(parsed.tree) if isinstance(node, ast.Name)}
        if loops
        else set()
    )
    counters = {
        node.target.id
        for node in loops
        if node.target.id not in user_names  # the normal form's own walk of an iterable
    }
    walker = _Walker(parsed, form, dicts, counters, unknown)
    walker.shapes, walker.in_order = shapes, in_order
    body = walker.block(form.tree.body)
    renamed = _named_after_keys(parsed, form, body, dicts, walker.names)
    if renamed:
        body = [_Renamer(renamed).visit(statement) for statement in body]
        walker.added = walker.added | frozenset(renamed.values())
        walker.changed = True
    if not walker.added and not walker.changed:
        return form
    tree = ast.copy_location(
        ast.FunctionDef(
            name=form.tree.name,
            args=form.tree.args,
            body=body,
            decorator_list=[],
            returns=None,
            type_comment=None,
        ),
        form.tree,
    )
    return replace(
        form,
        tree=fix_missing_locations(tree),
        local_names=form.local_names | walker.added,
        temporaries=form.temporaries | walker.added,
        taken_names=frozenset(walker.names.taken),
    )


class _Walker:
    def __init__(self, parsed, form, dicts, counters, unknown):
        self.parsed, self.form, self.dicts, self.counters = parsed, form, dicts, counters
        self.unknown = unknown
        self.names = NameAllocator(form.taken_names)
        self.added: frozenset[str] = frozenset()
        self.changed = False
        self.shapes: Shapes = {}
        self.in_order: str | None = None

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for statement in statements:
            if isinstance(statement, ast.For | ast.While | ast.If):
                statement = replace_fields(
                    statement, body=self.block(statement.body), orelse=self.block(statement.orelse)
                )
                out.append(statement)
            elif isinstance(statement, ast.Assign):
                out.extend(self.assignment(statement))
            else:
                out.append(statement)
        return out

    def assignment(self, statement: ast.Assign) -> list[ast.stmt]:
        value = statement.value
        if isinstance(value, ast.Name) and value.id in self.dicts:
            if isinstance(statement.targets[0], ast.Tuple):
                raise self.refusal(statement, f"unpacking the dict {value.id}", "read its entries")
            return [statement]
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
            return self.subscript(statement, value)
        if isinstance(value, ast.Call):
            return self.call(statement, value)
        return [statement]

    def subscript(self, statement: ast.Assign, value: ast.Subscript) -> list[ast.stmt]:
        """``v = d[i]`` where the normal form walks the dict d by position: a key."""
        name = value.value.id
        walked = isinstance(value.slice, ast.Name) and value.slice.id in self.counters
        if not walked:
            return [statement]
        if name in self.dicts:
            keys = self.keys(name)
            key = ast.Subscript(value=keys, slice=value.slice, ctx=ast.Load())
            return [self.assign(statement, key)]
        if name in self.unknown:
            raise self.refusal(
                statement,
                f"a loop over the dict {name}, whose keys are known only when it runs",
                f"loop over list({name}), or pass the dict as an argument",
            )
        if name not in self.form.local_names and isinstance(
            self.parsed.namespace.lookup(name), dict
        ):
            raise self.refusal(
                statement,
                f"a loop over the global dict {name}",
                f"pass it as an argument, or loop over list({name})",
            )
        if self.in_order is not None and self.may_be_a_dict(name):
            lines: list[ast.stmt] = []
            checked = self.fresh(statement, lines, _called(self.in_order, name))
            read = ast.Subscript(value=checked, slice=value.slice, ctx=ast.Load())
            lines.append(self.assign(statement, read))
            return lines
        return [statement]

    def may_be_a_dict(self, name: str) -> bool:
        """Whether ``name``, walked by position, is a value the function made (not one of its
        parameters, whose kinds the call gives) whose kind is not known now."""
        if name in self.form.parameters or name not in self.form.local_names:
            return False
        shape = self.shapes.get(name)
        sequence = getattr(shape, "mapping", None) is False  # a tuple or list
        return not sequence and not isinstance(shape, tuple | str)

    def call(self, statement: ast.Assign, value: ast.Call) -> list[ast.stmt]:
        function = value.func
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id in self.dicts
        ):
            return self.method(statement, function.value.id, function.attr, value)
        if isinstance(function, ast.Name) and function.id in _TAKING_KEYS:
            arguments = [
                self.keys(a.id) if isinstance(a, ast.Name) and a.id in self.dicts else a
                for a in value.args
            ]
            if any(a is not b for a, b in zip(arguments, value.args, strict=True)):
                return [self.assign(statement, replace_fields(value, args=arguments))]
        return [statement]

    def method(self, statement: ast.Assign, name: str, method: str, call: ast.Call):
        keys = self.dicts[name]
        if method == "keys" and not call.args and not call.keywords:
            return [self.assign(statement, self.keys(name))]
        if method in ("values", "items") and not call.args and not call.keywords:
            lines, elements = [], []
            for key in keys:
                entry = self.fresh(statement, lines, _read(name, key))
                if method == "items":
                    pair = ast.Tuple(elts=[ast.Constant(key), entry], ctx=ast.Load())
                    entry = self.fresh(statement, lines, pair)
                elements.append(entry)
            lines.append(self.assign(statement, ast.Tuple(elts=elements, ctx=ast.Load())))
            return lines
        if method == "get" and not call.keywords and 1 <= len(call.args) <= 2:
            key = call.args[0]
            if isinstance(key, ast.Constant):
                if key.value in keys:
                    return [self.assign(statement, _read(name, key.value))]
                default = call.args[1] if len(call.args) == 2 else ast.Constant(None)
                return [self.assign(statement, default)]
        raise self.refusal(
            statement,
            f"the call of {name}.{method}() on a dict",
            "read its entries by key, or walk .keys(), .values() or .items()"
            + (" (.get takes a literal key here)" if method == "get" else ""),
        )

    def keys(self, name: str) -> ast.Tuple:
        return ast.Tuple(elts=[ast.Constant(key) for key in self.dicts[name]], ctx=ast.Load())

    def fresh(self, statement: ast.Assign, lines: list[ast.stmt], value: ast.expr) -> ast.Name:
        """A new temporary bound to ``value`` (appended to ``lines``)."""
        name = self.names.numbered("tmp")
        self.added = self.added | {name}
        lines.append(
            ast.copy_location(
                ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value), statement
            )
        )
        return ast.Name(id=name, ctx=ast.Load())

    def assign(self, statement: ast.Assign, value: ast.expr) -> ast.Assign:
        self.changed = True
        return ast.copy_location(ast.Assign(targets=statement.targets, value=value), statement)

    def refusal(self, statement: ast.Assign, what: str, advice: str) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what}: {advice}",
            self.parsed.location(statement.value),
        )


def _named_after_keys(parsed, form, body, dicts, names: NameAllocator) -> dict[str, str]:
    """Temporaries bound once, to an entry of a dict with known keys read by a literal key
    that is a name (``tmp4 = params["W2"]``), renamed after the key (``W2``, or ``W2_2``
    where that is taken): the generated code reads ``W2.T @ y_bar``. A key that names a
    global or a builtin the function could read is left alone."""
    if not dicts:  # no dict with known keys: no entry of one to rename after its key
        return {}
    bound: dict[str, list] = {}
    for node in (n for statement in body for n in walk_breadth_first(statement)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.setdefault(node.id, []).append(node)
    renamed = {}
    for node in (n for statement in body for n in walk_breadth_first(statement)):
        if not (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in form.temporaries
            and len(bound.get(node.targets[0].id, ())) == 1
            and isinstance(node.value, ast.Subscript)
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id in dicts
            and isinstance(node.value.slice, ast.Constant)
        ):
            continue
        key = node.value.slice.value
        if (
            not isinstance(key, str)
            or not key.isidentifier()
            or keyword.iskeyword(key)
            or parsed.namespace.lookup(key) is not MISSING
        ):
            continue
        renamed[node.targets[0].id] = names.fresh(key)
    return renamed


class _Renamer(ast.NodeTransformer):
    def __init__(self, renamed: dict[str, str]):
        self.renamed = renamed

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.renamed:
            return ast.copy_location(ast.Name(id=self.renamed[node.id], ctx=node.ctx), node)
        return node


def _called(function: str, name: str) -> ast.Call:
    return ast.Call(
        func=ast.Name(id=function, ctx=ast.Load()),
        args=[ast.Name(id=name, ctx=ast.Load())],
        keywords=[],
    )


def _read(name: str, key) -> ast.Subscript:
    return ast.Subscript(
        value=ast.Name(id=name, ctx=ast.Load()), slice=ast.Constant(key), ctx=ast.Load()
    )


def replace_fields(node: ast.AST, **fields) -> ast.AST:
    """A shallow copy of ``node`` with these fields replaced."""
    copied = type(node)(**{field: getattr(node, field, None) for field in node._fields})
    for field, value in fields.items():
        setattr(copied, field, value)
    return ast.copy_location(copied, node)
