"""Normalize: one operation per line, every name assigned once.

Invariant established: the body of ``NormalForm.tree`` follows this grammar. A name assigned only
in straight-line code at the top level is assigned once (a user name assigned again becomes
``name_2``, ``name_3``, ...); a name assigned inside a branch or a loop keeps its name throughout::

    body       := statement* return
    statement  := NAME = simple             one operation on atoms
                | NAME, NAME, ... = atom    unpacking ((p, q), r = v unpacks v, then p, q)
                | NAME[index] = atom        into an array the function made
                | NAME.append(atom)         onto a list the function made
                | print(...) | assert ...   kept as written (names renamed)
                | if NAME: block else: block                the blocks do not assign NAME
                | for NAME in NAME: block                    the iterable is a range
                | while NAME: block                          the block ends by recomputing NAME
    block      := statement+ | pass
    return     := return NAME                                once, at the end
    simple     := atom
                | atom BINOP atom | UNARYOP atom | atom CMPOP atom
                | callee(atom, ..., keyword=atom, ...)       a function named by a global path
                | atom.method(atom, ..., keyword=atom, ...)  a method of a local value
                | atom.attribute
                | atom[index]
                | {CONSTANT: atom, ...}                      literal keys, each once
    atom       := NAME | CONSTANT | global.dotted.path | (atom, ...) | [atom, ...]
    index      := atom | slice(atom?, atom?, atom?) | (index, ...)

Temporaries are named ``tmp1``, ``tmp2``, ... in order of appearance, so the same function always
gives the same normal form. ``a and b`` and ``a or b`` become conditional expressions that
evaluate b only when Python would (``a < b < c`` is ``a < b and b < c``, b evaluated once).
Augmented assignment ``v op= e`` becomes ``v_2 = v op e`` (the fence has checked that no other
name shares v's array). ``a if c else b`` becomes an ``if`` statement; a return inside a branch
assigns ``result``, and the code after that branch moves into the paths that did not return.
``continue`` sets a flag under which the rest of the iteration runs; ``break`` sets another that
the loop condition reads (a ``for`` loop over a range with a ``break`` becomes a ``while`` loop
over the range's indices); a return inside a loop stores its value, sets a flag, breaks out of
each enclosing loop and returns after them. A loop over anything but ``range`` walks an index:
``for v in xs`` becomes ``for i in range(len(xs)): v = xs[i]`` (likewise ``enumerate``, ``zip``
and ``reversed``); a list comprehension or generator expression becomes such a loop appending
to a new list. ``dict(...)`` whose keys the call shows (keywords, pairs, a display) becomes the
display it makes, the last value under a key kept.

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
from dataclasses import dataclass
from typing import Any

from overbar.errors import InternalError, UnsupportedSyntaxError
from overbar.transpiler.constructors import initialiser, stored_arguments
from overbar.transpiler.fence import is_append, is_docstring
from overbar.transpiler.fence_scope import local_lambdas
from overbar.transpiler.jumps import lift_returns, stored_names, without_jumps
from overbar.transpiler.names import (
    NameAllocator,
    clone,
    names_in,
    statements_breadth_first,
    walk_breadth_first,
)
from overbar.transpiler.normalize_expressions import ExpressionNormalizer, is_global_path
from overbar.transpiler.parse import ParsedFunction


@dataclass(frozen=True)
class NormalForm:
    """A function in normal form, with the names it binds and those overbar introduced."""

    tree: ast.FunctionDef
    parameters: tuple[str, ...]
    local_names: frozenset[str]
    temporaries: frozenset[str]
    taken_names: frozenset[str]


def normalize(parsed: ParsedFunction) -> NormalForm:
    """Rewrite ``parsed`` into normal form (see the module docstring)."""
    return _Normalizer(parsed).run()


def show(source: str) -> str:
    """The normal form of the first function in ``source``, as source (for docs and tests)."""
    tree = ast.parse(source).body[0]
    parsed = ParsedFunction(function=None, tree=tree, filename="<string>", namespace=None)
    return ast.unparse(normalize(parsed).tree)


class _Normalizer(ExpressionNormalizer):
    """The statements and control flow of the normal form, and the names' versions."""

    def __init__(self, parsed: ParsedFunction):
        self.parsed = parsed
        self.tree = parsed.tree
        arguments = self.tree.args
        self.parameters = tuple(
            a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        )
        self.source_names = frozenset(names_in(self.tree))
        self.names = NameAllocator(self.source_names)
        self.tree = without_jumps(self.tree, self.names)
        self.assigned_anywhere = _assigned_names(self.tree) | set(self.parameters)
        self.functions = frozenset(parsed.namespace.functions) if parsed.namespace else set()
        self.lambdas = local_lambdas(self.tree)
        # parameters the function calls, never rebound and bound to no function at the call:
        # objects whose class defines __call__ (``cell(h)``), called as that method
        self.called_objects = (
            set(self.parameters) - _assigned_names(self.tree) - set(self.functions)
        ) | _made_objects(self.tree, parsed.namespace)
        self.mutable = _assigned_in_blocks(self.tree.body)
        self.returns_in_branches = any(
            isinstance(node, ast.Return)
            for statement in self.tree.body
            if isinstance(statement, ast.If)
            for node in walk_breadth_first(statement)
        )
        self.result_name = self.names.fresh("result") if self.returns_in_branches else None
        if self.result_name is not None:
            self.mutable.add(self.result_name)
        self.current = {name: name for name in self.parameters}
        self.versions: dict[str, int] = {}
        self.body: list[ast.stmt] = []
        self.temporaries: set[str] = set()
        self.statement: ast.stmt | None = None

    def run(self) -> NormalForm:
        body = [s for s in self.tree.body if not is_docstring(s)]
        self.body = self.stable_branch_tests(self.block(lift_returns(body)))
        if self.result_name is not None:
            self.body.append(
                ast.copy_location(
                    ast.Return(value=ast.Name(id=self.result_name, ctx=ast.Load())),
                    body[-1],
                )
            )
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
            name for node in statements_breadth_first(tree) for name in _targets(node)
        )
        return NormalForm(
            tree=tree,
            parameters=self.parameters,
            local_names=local_names,
            temporaries=frozenset(self.temporaries),
            taken_names=frozenset(self.names.taken),
        )

    def stable_branch_tests(self, block: list[ast.stmt]) -> list[ast.stmt]:
        """``if c:`` whose branches assign c (a return in a loop sets ``returned``) tests a
        copy of c taken before it, ``branch1 = c``: the reverse sweep replays the branch by
        its test before undoing the branch's lines, so the test must keep its value."""
        out = []
        for statement in block:
            for field in ("body", "orelse"):
                inner = getattr(statement, field, None)
                if inner and isinstance(statement, ast.If | ast.For | ast.While):
                    setattr(statement, field, self.stable_branch_tests(inner))
            if (
                isinstance(statement, ast.If)
                and isinstance(statement.test, ast.Name)
                and statement.test.id in stored_names(statement.body + statement.orelse)
            ):
                copy_ = self.names.numbered("branch")
                out.append(
                    ast.copy_location(
                        ast.Assign(
                            targets=[ast.Name(id=copy_, ctx=ast.Store())], value=statement.test
                        ),
                        statement,
                    )
                )
                statement.test = ast.Name(id=copy_, ctx=ast.Load())
            out.append(statement)
        return out

    # -- statements --------------------------------------------------------------------------

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        """Normalize ``statements`` into a list of their own (for a branch or a loop body)."""
        outer_body, outer_statement = self.body, self.statement
        self.body = []
        for statement in statements:
            self.statement = statement
            self.normalize_statement(statement)
        block, self.body, self.statement = self.body, outer_body, outer_statement
        return block

    def normalize_statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Assign) and len(statement.targets) > 1:
            value = self.atom(statement.value)  # a = b = e: e once, then each target, in order
            for target in statement.targets:
                self.assign(target, value)
        elif isinstance(statement, ast.Assign):
            if any(statement.value is lam for lam in self.lambdas.values()):
                return  # f = lambda z: ...: each call of f is written as the lambda's body
            self.assign(statement.targets[0], statement.value)
        elif isinstance(statement, ast.AnnAssign):
            self.assign(statement.target, statement.value)
        elif isinstance(statement, ast.AugAssign):
            if isinstance(statement.target, ast.Subscript):  # y[i] += v: y[i] = y[i] + v
                current = ast.Subscript(
                    value=statement.target.value, slice=statement.target.slice, ctx=ast.Load()
                )
            else:
                current = ast.Name(id=statement.target.id, ctx=ast.Load())
            value = ast.copy_location(
                ast.BinOp(left=current, op=statement.op, right=statement.value), statement
            )
            self.assign(statement.target, value)
        elif isinstance(statement, ast.Return):
            if self.result_name is not None:
                self.assign(ast.Name(id=self.result_name, ctx=ast.Store()), statement.value)
                return
            result = self.expression(statement.value)
            if not isinstance(result, ast.Name):  # `return (p * p).T`, `return 1.0`
                name = self.names.fresh("result")
                self.emit(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=result))
                result = ast.Name(id=name, ctx=ast.Load())
            self.emit(ast.Return(value=result))
        elif isinstance(statement, ast.If):
            test = self.atom(statement.test)
            body = self.block(statement.body) or [ast.Pass()]
            orelse = self.block(statement.orelse)
            self.emit(ast.If(test=test, body=body, orelse=orelse))
        elif isinstance(statement, ast.For):
            self.for_loop(statement)
        elif isinstance(statement, ast.While):
            condition = self.names.numbered("cond")
            self.mutable.add(condition)
            self.assign(ast.Name(id=condition, ctx=ast.Store()), statement.test)
            body = self.block(statement.body)
            self.statement = statement
            outer_body, self.body = self.body, body
            self.assign(ast.Name(id=condition, ctx=ast.Store()), statement.test)
            self.body = outer_body
            self.emit(ast.While(test=ast.Name(id=condition, ctx=ast.Load()), body=body, orelse=[]))
        elif isinstance(statement, ast.Expr) and is_append(statement):
            receiver = self.load(statement.value.func.value)
            value = self.atom(statement.value.args[0])
            method = ast.Attribute(value=receiver, attr="append", ctx=ast.Load())
            self.emit(ast.Expr(value=ast.Call(func=method, args=[value], keywords=[])))
        elif isinstance(statement, ast.Expr) and _is_effect_call(statement.value):
            # generated code's add_at(acc, index, g) and xs.pop(): the arguments as atoms
            call = statement.value
            arguments = [self.atom(argument) for argument in call.args]
            function = self.renamed(ast.Expr(value=call.func)).value
            self.emit(ast.Expr(value=ast.Call(func=function, args=arguments, keywords=[])))
        elif isinstance(statement, ast.Expr | ast.Assert):  # print(...) and assert, as written
            self.emit(self.renamed(statement))
        elif not isinstance(statement, ast.Pass):
            raise InternalError(
                f"normalize met a {type(statement).__name__} statement the fence let through",
                self.parsed.location(statement),
            )

    def for_loop(self, statement: ast.For) -> None:
        """``for`` over a range keeps its target; over anything else it walks an index."""
        iterable, target = statement.iter, statement.target
        call = iterable.func.id if self.is_builtin_call(iterable) else None
        if call == "range" and isinstance(target, ast.Name):
            self.emit_loop(target.id, self.atom(iterable), [], statement)
            return
        if call in ("enumerate", "zip", "reversed") and not iterable.keywords:
            written = list(iterable.args)
        else:
            call, written = None, [iterable]
        # enumerate(zip(a, b)): the index counts the zipped tuples, (i, (a[i], b[i]))
        zipped = call == "zip" or (
            call == "enumerate"
            and len(written) == 1
            and self.is_builtin_call(written[0])
            and written[0].func.id == "zip"
            and not written[0].keywords
        )
        if call == "enumerate" and zipped:
            written = list(written[0].args)
        if call in ("enumerate", "zip"):
            written = [self.walked_backwards(sequence, statement) for sequence in written]
        # Python walks the object the loop started with, even if the body rebinds its name
        # (for row in x: x = x + row.min()): the index then reads a copy of the name.
        rebound = stored_names(statement.body)
        sequences = [
            (
                self.temporary(self.atom(sequence))
                if isinstance(sequence, ast.Name) and sequence.id in rebound
                else self.atom(sequence)
            )
            for sequence in written
        ]
        if call == "enumerate" and len(sequences) > 1 and not zipped:
            raise self.unsupported(iterable, "enumerate with a start", "add the start yourself")
        lengths = [self.call_atom("len", [sequence]) for sequence in sequences]
        length = lengths[0] if len(lengths) == 1 else self.call_atom("min", lengths)
        if call == "reversed":
            last = self.temporary(ast.BinOp(left=length, op=ast.Sub(), right=ast.Constant(1)))
            bounds = [last, ast.Constant(-1), ast.Constant(-1)]
        else:
            bounds = [length]
        index = self.names.numbered("index")
        self.mutable.add(index)
        steps = self.call_atom("range", bounds)
        items = [
            ast.Subscript(value=sequence, slice=ast.Name(id=index, ctx=ast.Load()), ctx=ast.Load())
            for sequence in sequences
        ]
        element: ast.expr = ast.Tuple(elts=items, ctx=ast.Load()) if zipped else items[0]
        head = []
        if call == "enumerate":
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                raise self.unsupported(target, "this enumerate target", "write `for i, v in ...`")
            head.append(
                ast.Assign(targets=[target.elts[0]], value=ast.Name(id=index, ctx=ast.Load()))
            )
            target = target.elts[1]
        head.append(ast.Assign(targets=[target], value=element))
        for line in head:
            ast.copy_location(line, statement)
            ast.copy_location(line.value, statement.iter)
        self.emit_loop(index, steps, head, statement)

    def walked_backwards(self, sequence: ast.expr, loop: ast.For) -> ast.expr:
        """``s[::-1]`` for ``reversed(s)`` walked by ``enumerate`` or ``zip`` in a loop's header;
        any other sequence as it is.

        Identity: the k-th element ``reversed(s)`` yields is ``s[len(s) - 1 - k]``, which is
        ``s[::-1][k]``, for a list, a tuple or an array alike. Side condition: the loop does
        not change ``s`` (``reversed`` reads it lazily, a list's slice is a copy): ``s`` is a
        name the loop neither binds nor writes into, nor calls a method of."""
        if not (
            self.is_builtin_call(sequence)
            and sequence.func.id == "reversed"
            and len(sequence.args) == 1
            and not sequence.keywords
            and isinstance(sequence.args[0], ast.Name)
        ):
            return sequence
        name = sequence.args[0].id
        for node in (n for s in loop.body for n in walk_breadth_first(s)):
            changed = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
            written = isinstance(node, ast.Subscript | ast.Attribute) and isinstance(
                node.ctx, ast.Store | ast.Del
            )
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if changed and node.id == name:
                return sequence
            if (written or called) and any(
                isinstance(n, ast.Name) and n.id == name
                for n in walk_breadth_first(node.value if written else node.func.value)
            ):
                return sequence
        backwards = ast.Slice(lower=None, upper=None, step=ast.Constant(-1))
        return ast.copy_location(
            ast.Subscript(value=sequence.args[0], slice=backwards, ctx=ast.Load()), sequence
        )

    def emit_loop(
        self, target: str, steps: ast.expr, head: list[ast.stmt], statement: ast.For
    ) -> None:
        self.current[target] = target
        body = self.block(head + statement.body)
        loop = ast.For(
            target=ast.Name(id=target, ctx=ast.Store()), iter=steps, body=body, orelse=[]
        )
        self.emit(loop)

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Subscript):  # a write into the array: y[index] = atom
            atom = self.atom(value)
            array = self.load(target.value)
            index = self.index(target.slice)
            written = ast.Subscript(value=array, slice=index, ctx=ast.Store())
            self.emit(ast.Assign(targets=[written], value=atom))
            return
        if isinstance(target, ast.Name):
            expression = self.expression(value)
            self.emit(ast.Assign(targets=[self.store(target.id)], value=expression))
            return
        elements = target.elts
        if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(elements):
            atoms = [self.atom(element) for element in value.elts]
            self.unpack(target, ast.Tuple(elts=atoms, ctx=ast.Load()))
            return
        self.unpack(target, self.atom(value))

    def unpack(self, target: ast.Tuple | ast.List, atom: ast.expr) -> None:
        """``a, b = atom``, the atom already normalised (every name in it read before any is
        assigned). A display's elements are assigned one by one; a nested target unpacks into
        a temporary first: ``(p, q), r = v`` is ``tmp1, r = v`` then ``p, q = tmp1``."""
        elements = target.elts
        if isinstance(atom, ast.Tuple | ast.List) and len(atom.elts) == len(elements):
            for element, part in zip(elements, atom.elts, strict=True):
                if isinstance(element, ast.Name):
                    self.emit(ast.Assign(targets=[self.store(element.id)], value=part))
                else:
                    self.unpack(element, part)
            return
        inner: dict[int, str] = {}
        for index, element in enumerate(elements):
            if isinstance(element, ast.Tuple | ast.List):
                inner[index] = self.names.numbered("tmp")
                self.temporaries.add(inner[index])
        stores = [
            ast.Name(id=inner[index], ctx=ast.Store()) if index in inner else self.store(e.id)
            for index, e in enumerate(elements)
        ]
        self.emit(ast.Assign(targets=[ast.Tuple(elts=stores, ctx=ast.Store())], value=atom))
        for index, name in inner.items():
            self.unpack(elements[index], ast.Name(id=name, ctx=ast.Load()))

    def store(self, name: str) -> ast.Name:
        """A fresh version of ``name`` for a new assignment (the first keeps the name)."""
        if name in self.mutable:
            self.current[name] = name
            self.names.take(name)
            return ast.Name(id=name, ctx=ast.Store())
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

    def is_atom(self, node: ast.expr) -> bool:
        """Whether the normalized ``node`` is an atom. A dotted path is one only if it starts
        at a global the user wrote: ``tmp1.T`` and ``x_2.T`` start at names overbar made."""
        if isinstance(node, ast.Name | ast.Constant):
            return True
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.is_atom(element) for element in node.elts)
        if not is_global_path(node, self.assigned_anywhere):
            return False
        while isinstance(node, ast.Attribute):
            node = node.value
        return node.id in self.source_names

    def renamed(self, statement: ast.stmt) -> ast.stmt:
        """``statement`` kept as written, with each name read replaced by its current version."""
        normalizer = self

        class Renamer(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.Name:
                return ast.copy_location(normalizer.load(node), node)

        return Renamer().visit(clone(statement))

    def unsupported(
        self, node: ast.AST, what: str, advice: str = "it is not supported yet"
    ) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} in {self.tree.name}: {advice}",
            self.parsed.location(node),
        )


def _made_objects(tree: ast.FunctionDef, namespace: Any) -> set[str]:
    """The local names bound only to objects the function makes of a class whose ``__init__``
    stores its arguments (``cell = Cell(W, U, b)``, ``constructors.py``), never a parameter:
    a call ``cell(h)`` of one is its method ``__call__``."""
    if namespace is None:
        return set()
    parameters = {a.arg for a in [*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs]}
    local = parameters | _assigned_names(tree)
    made: dict[str, bool] = {}
    for node in statements_breadth_first(tree):
        for name in _targets(node):
            value = getattr(node, "value", None)
            single = (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            )
            makes = (
                single
                and isinstance(value, ast.Call)
                and (
                    is_global_path(value.func, local)
                    or (isinstance(value.func, ast.Name) and value.func.id not in local)
                )
                and (
                    stored_arguments(namespace.resolve(value.func)) is not None
                    or initialiser(namespace.resolve(value.func)) is not None
                )
            )
            made[name] = made.get(name, True) and makes
    return {name for name, only_made in made.items() if only_made and name not in parameters}


def _assigned_names(tree: ast.FunctionDef) -> set[str]:
    names = set()
    for node in statements_breadth_first(tree):
        names.update(_targets(node))
    return names


def _targets(statement: ast.AST) -> list[str]:
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign | ast.For):
        targets = [statement.target]
    else:
        return []
    return [
        n.id
        for t in targets
        if not isinstance(t, ast.Subscript)  # a write into y[i] does not bind y
        for n in walk_breadth_first(t)
        if isinstance(n, ast.Name)
    ]


def _assigned_in_blocks(body: list[ast.stmt]) -> set[str]:
    """Names assigned inside a branch or a loop (they cannot get one version per assignment)."""
    names = set()
    for statement in body:
        if isinstance(statement, ast.If | ast.For | ast.While):
            for node in walk_breadth_first(statement):
                names.update(_targets(node))
                if isinstance(node, ast.For):
                    names.update(
                        n.id for n in walk_breadth_first(node.target) if isinstance(n, ast.Name)
                    )
    return names


def _is_effect_call(expression: ast.expr) -> bool:
    """A call statement of generated code, made for its effect (``add_at(acc, i, g)``,
    ``xs.pop()``): the fence lets no other call statement through but ``print``."""
    return (
        isinstance(expression, ast.Call)
        and not expression.keywords
        and not (isinstance(expression.func, ast.Name) and expression.func.id == "print")
    )
