"""Normalize: one operation per line, every name assigned once.

Invariant established: the body of ``NormalForm.tree`` follows this grammar, and every name is
assigned at most once (a user name assigned again becomes ``name_2``, ``name_3``, ...)::

    body       := statement* return
    statement  := NAME = simple             one operation on atoms
                | NAME, NAME, ... = atom    unpacking
                | print(...) | assert ...   kept as written (names renamed)
    return     := return atom
    simple     := atom
                | atom BINOP atom | UNARYOP atom | atom CMPOP atom
                | callee(atom, ..., keyword=atom, ...)       a function named by a global path
                | atom.method(atom, ..., keyword=atom, ...)  a method of a local value
                | atom.attribute
                | atom[index]
    atom       := NAME | CONSTANT | global.dotted.path | (atom, ...) | [atom, ...]
    index      := atom | slice(atom?, atom?, atom?) | (index, ...)

Temporaries are named ``tmp1``, ``tmp2``, ... in order of appearance, so the same function always
gives the same normal form. Augmented assignment ``v op= e`` becomes ``v_2 = v op e`` (the fence
has checked that no other name shares v's array).

>>> import textwrap
>>> print(show(textwrap.dedent('''
... def loss(W, x, b):
...     z = W @ x + b
...     z = np.tanh(z)
...     return 0.5 * np.sum(z ** 2)
... ''')))
def loss(W, x, b):
    tmp1 = W @ x
    z = tmp1 + b
    z_2 = np.tanh(z)
    tmp2 = z_2 ** 2
    tmp3 = np.sum(tmp2)
    result = 0.5 * tmp3
    return result
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

from overbar.errors import UnsupportedSyntaxError
from overbar.transpiler.names import NameAllocator, names_in
from overbar.transpiler.parse import ParsedFunction


@dataclass(frozen=True)
class NormalForm:
    """A function in normal form, with the names it binds and those overbar introduced."""

    tree: ast.FunctionDef
    parameters: tuple[str, ...]
    local_names: frozenset[str]
    temporaries: frozenset[str]
    taken_names: frozenset[str]

    def is_atom(self, node: ast.expr) -> bool:
        """Whether ``node`` is an atom of the grammar above."""
        if isinstance(node, ast.Name | ast.Constant):
            return True
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.is_atom(element) for element in node.elts)
        return is_global_path(node, self.local_names)


def is_global_path(node: ast.expr, local_names: frozenset[str] | set[str]) -> bool:
    """``a.b.c`` where ``a`` is not a local name: it refers to something outside the function."""
    if not isinstance(node, ast.Attribute):
        return False
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id not in local_names


def normalize(parsed: ParsedFunction) -> NormalForm:
    """Rewrite ``parsed`` into normal form (see the module docstring)."""
    return _Normalizer(parsed).run()


def show(source: str) -> str:
    """The normal form of the first function in ``source``, as source (for docs and tests)."""
    tree = ast.parse(source).body[0]
    parsed = ParsedFunction(function=None, tree=tree, filename="<string>", namespace=None)
    return ast.unparse(normalize(parsed).tree)


class _Normalizer:
    def __init__(self, parsed: ParsedFunction):
        self.parsed = parsed
        self.tree = parsed.tree
        arguments = self.tree.args
        self.parameters = tuple(
            a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        )
        self.names = NameAllocator(names_in(self.tree))
        self.assigned_anywhere = _assigned_names(self.tree) | set(self.parameters)
        self.current = {name: name for name in self.parameters}
        self.versions: dict[str, int] = {}
        self.body: list[ast.stmt] = []
        self.temporaries: set[str] = set()
        self.statement: ast.stmt | None = None

    def run(self) -> NormalForm:
        for statement in self.tree.body:
            self.statement = statement
            self.normalize_statement(statement)
        tree = ast.FunctionDef(
            name=self.tree.name,
            args=self.tree.args,
            body=self.body,
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        ast.copy_location(tree, self.tree)
        local_names = frozenset(self.parameters) | frozenset(
            name for s in self.body for name in _targets(s)
        )
        return NormalForm(
            tree=tree,
            parameters=self.parameters,
            local_names=local_names,
            temporaries=frozenset(self.temporaries),
            taken_names=frozenset(self.names.taken),
        )

    # -- statements --------------------------------------------------------------------------

    def normalize_statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Assign):
            self.assign(statement.targets[0], statement.value)
        elif isinstance(statement, ast.AnnAssign):
            self.assign(statement.target, statement.value)
        elif isinstance(statement, ast.AugAssign):
            target = ast.Name(id=statement.target.id, ctx=ast.Load())
            value = ast.copy_location(
                ast.BinOp(left=target, op=statement.op, right=statement.value), statement
            )
            self.assign(statement.target, value)
        elif isinstance(statement, ast.Return):
            result = self.expression(statement.value)
            if not self.is_atom(result):
                name = self.names.fresh("result")
                self.emit(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=result))
                result = ast.Name(id=name, ctx=ast.Load())
            self.emit(ast.Return(value=result))
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            pass  # the docstring
        elif isinstance(statement, ast.Expr | ast.Assert):  # print(...) and assert, as written
            self.emit(self.renamed(statement))

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            expression = self.expression(value)
            self.emit(ast.Assign(targets=[self.store(target.id)], value=expression))
            return
        elements = target.elts
        if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(elements):
            atoms = [self.atom(element) for element in value.elts]
            for element, atom in zip(elements, atoms, strict=True):
                self.emit(ast.Assign(targets=[self.store(element.id)], value=atom))
            return
        atom = self.atom(value)
        stores = [self.store(element.id) for element in elements]
        self.emit(ast.Assign(targets=[ast.Tuple(elts=stores, ctx=ast.Store())], value=atom))

    def store(self, name: str) -> ast.Name:
        """A fresh version of ``name`` for a new assignment (the first keeps the name)."""
        if name not in self.current:
            version = name
            self.names.take(name)
        else:
            count = self.versions.get(name, 1) + 1
            version = self.names.fresh(f"{name}_{count}")
            self.versions[name] = count
        self.current[name] = version
        return ast.Name(id=version, ctx=ast.Store())

    def emit(self, statement: ast.stmt) -> None:
        self.body.append(ast.copy_location(statement, self.statement))

    # -- expressions -------------------------------------------------------------------------

    def atom(self, node: ast.expr) -> ast.expr:
        expression = self.expression(node)
        if self.is_atom(expression):
            return expression
        name = self.names.numbered("tmp")
        self.temporaries.add(name)
        self.emit(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=expression))
        return ast.Name(id=name, ctx=ast.Load())

    def is_atom(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name | ast.Constant):
            return True
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.is_atom(element) for element in node.elts)
        return is_global_path(node, self.assigned_anywhere)

    def expression(self, node: ast.expr) -> ast.expr:
        """``node`` as one operation on atoms (or as an atom)."""
        result = self._expression(node)
        return ast.copy_location(result, node)

    def _expression(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Name):
            return self.load(node)
        if isinstance(node, ast.Constant):
            return ast.Constant(value=node.value)
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            sign = -1 if isinstance(node.op, ast.USub) else 1
            return ast.Constant(value=sign * node.operand.value)
        if isinstance(node, ast.Tuple | ast.List):
            return type(node)(elts=[self.atom(e) for e in node.elts], ctx=ast.Load())
        if is_global_path(node, self.assigned_anywhere):
            return node
        if isinstance(node, ast.BinOp):
            return ast.BinOp(left=self.atom(node.left), op=node.op, right=self.atom(node.right))
        if isinstance(node, ast.UnaryOp):
            return ast.UnaryOp(op=node.op, operand=self.atom(node.operand))
        if isinstance(node, ast.Compare):
            return ast.Compare(
                left=self.atom(node.left),
                ops=node.ops,
                comparators=[self.atom(c) for c in node.comparators],
            )
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return ast.Attribute(value=self.atom(node.value), attr=node.attr, ctx=ast.Load())
        if isinstance(node, ast.Subscript):
            return ast.Subscript(
                value=self.atom(node.value), slice=self.index(node.slice), ctx=ast.Load()
            )
        raise self.unsupported(node, f"the expression {ast.unparse(node)!r}")

    def call(self, node: ast.Call) -> ast.Call:
        function = node.func
        if is_global_path(function, self.assigned_anywhere) or (
            isinstance(function, ast.Name) and function.id not in self.assigned_anywhere
        ):
            callee = function
        elif isinstance(function, ast.Attribute):
            receiver = self.atom(function.value)
            callee = ast.Attribute(value=receiver, attr=function.attr, ctx=ast.Load())
        else:
            raise self.unsupported(
                function,
                f"a call of the local variable {ast.unparse(function)}",
                "call the function by its global name",
            )
        return ast.Call(
            func=callee,
            args=[self.atom(argument) for argument in node.args],
            keywords=[ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords],
        )

    def index(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Slice):
            parts = [node.lower, node.upper, node.step]
            lower, upper, step = (None if p is None else self.atom(p) for p in parts)
            return ast.Slice(lower=lower, upper=upper, step=step)
        if isinstance(node, ast.Tuple):
            return ast.Tuple(elts=[self.index(e) for e in node.elts], ctx=ast.Load())
        return self.atom(node)

    def load(self, node: ast.Name) -> ast.Name:
        if node.id in self.current:
            return ast.Name(id=self.current[node.id], ctx=ast.Load())
        if node.id in self.assigned_anywhere:
            raise self.unsupported(
                node,
                f"a use of {node.id} before it is assigned",
                f"assign {node.id} before this line",
            )
        return ast.Name(id=node.id, ctx=ast.Load())

    def renamed(self, statement: ast.stmt) -> ast.stmt:
        """``statement`` kept as written, with each name read replaced by its current version."""
        normalizer = self

        class Renamer(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.Name:
                return ast.copy_location(normalizer.load(node), node)

        return Renamer().visit(copy.deepcopy(statement))

    def unsupported(
        self, node: ast.AST, what: str, advice: str = "it is not supported yet"
    ) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} in {self.tree.name}: {advice}",
            self.parsed.location(node),
        )


def _assigned_names(tree: ast.FunctionDef) -> set[str]:
    names = set()
    for statement in tree.body:
        names.update(_targets(statement))
    return names


def _targets(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    else:
        return []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
