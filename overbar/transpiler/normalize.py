"""Normalize: one operation per line, every name assigned once.

Invariant established: the body of ``NormalForm.tree`` follows this grammar. A name assigned only
in straight-line code at the top level is assigned once (a user name assigned again becomes
``name_2``, ``name_3``, ...); a name assigned inside a branch or a loop keeps its name throughout::

    body       := statement* return
    statement  := NAME = simple             one operation on atoms
                | NAME, NAME, ... = atom    unpacking
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
to a new list.

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
import builtins
from dataclasses import dataclass

from overbar.errors import InternalError, UnsupportedSyntaxError
from overbar.transpiler.fence import always_returns, is_append, is_docstring
from overbar.transpiler.names import NameAllocator, clone, names_in
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
        self.source_names = frozenset(names_in(self.tree))
        self.names = NameAllocator(self.source_names)
        self.tree = _without_jumps(self.tree, self.names)
        self.assigned_anywhere = _assigned_names(self.tree) | set(self.parameters)
        self.mutable = _assigned_in_blocks(self.tree.body)
        self.returns_in_branches = any(
            isinstance(node, ast.Return)
            for statement in self.tree.body
            if isinstance(statement, ast.If)
            for node in ast.walk(statement)
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
            name for node in ast.walk(tree) for name in _targets(node)
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
                and statement.test.id in _stored_names(statement.body + statement.orelse)
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
        if isinstance(statement, ast.Assign):
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
        # Python walks the object the loop started with, even if the body rebinds its name
        # (for row in x: x = x + row.min()): the index then reads a copy of the name.
        rebound = _stored_names(statement.body)
        sequences = [
            (
                self.temporary(self.atom(sequence))
                if isinstance(sequence, ast.Name) and sequence.id in rebound
                else self.atom(sequence)
            )
            for sequence in written
        ]
        if call == "enumerate" and len(sequences) > 1:
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
        element: ast.expr = items[0] if len(items) == 1 else ast.Tuple(elts=items, ctx=ast.Load())
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

    def emit_loop(
        self, target: str, steps: ast.expr, head: list[ast.stmt], statement: ast.For
    ) -> None:
        self.current[target] = target
        body = self.block(head + statement.body)
        loop = ast.For(
            target=ast.Name(id=target, ctx=ast.Store()), iter=steps, body=body, orelse=[]
        )
        self.emit(loop)

    def is_builtin_call(self, node: ast.expr) -> bool:
        """A call of a builtin (range, zip, ...) by its own name, not shadowed by the user."""
        if not _is_builtin_call(node, self.assigned_anywhere):
            return False
        namespace = self.parsed.namespace
        if namespace is None:  # normalizing source text alone (docs, tests)
            return True
        return namespace.lookup(node.func.id) is getattr(builtins, node.func.id, None)

    def call_atom(self, function: str, arguments: list[ast.expr]) -> ast.expr:
        """An atom holding ``function(*arguments)`` for a builtin the user did not shadow."""
        node = ast.Call(func=ast.Name(id=function, ctx=ast.Load()), args=[], keywords=[])
        if not self.is_builtin_call(node):
            raise self.unsupported(
                self.statement,
                f"this loop while {function} names something other than the builtin",
                f"overbar rewrites the loop with {function}(); rename your {function}",
            )
        call = ast.Call(func=ast.Name(id=function, ctx=ast.Load()), args=arguments, keywords=[])
        return self.temporary(call)

    def temporary(self, expression: ast.expr) -> ast.Name:
        name = self.names.numbered("tmp")
        self.temporaries.add(name)
        statement = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=expression)
        ast.copy_location(expression, self.statement)
        self.emit(statement)
        return ast.Name(id=name, ctx=ast.Load())

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
            for element, atom in zip(elements, atoms, strict=True):
                self.emit(ast.Assign(targets=[self.store(element.id)], value=atom))
            return
        atom = self.atom(value)
        stores = [self.store(element.id) for element in elements]
        self.emit(ast.Assign(targets=[ast.Tuple(elts=stores, ctx=ast.Store())], value=atom))

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

    def atom(self, node: ast.expr) -> ast.expr:
        expression = self.expression(node)
        if self.is_atom(expression):
            return expression
        name = self.names.numbered("tmp")
        self.temporaries.add(name)
        self.emit(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=expression))
        return ast.Name(id=name, ctx=ast.Load())

    def comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> ast.Name:
        """``[e for v in xs if c]`` (or a generator) as a loop appending to a new list.

        The comprehension's variables get fresh names, as they are local to it in Python.
        """
        result = self.names.numbered("tmp")
        self.temporaries.add(result)
        self.mutable.add(result)
        renames: dict[str, str] = {}

        def renamed(expression: ast.expr) -> ast.expr:
            class Rename(ast.NodeTransformer):
                def visit_Name(self, name: ast.Name) -> ast.Name:
                    new = renames.get(name.id, name.id)
                    return ast.copy_location(ast.Name(id=new, ctx=name.ctx), name)

            return Rename().visit(clone(expression))

        loops = []
        for generator in node.generators:
            iterable = renamed(generator.iter)
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    renames[target.id] = self.names.fresh(target.id)
                    self.mutable.add(renames[target.id])
                    self.assigned_anywhere.add(renames[target.id])
            loops.append(
                (renamed(generator.target), iterable, [renamed(c) for c in generator.ifs])
            )
        append = ast.Attribute(
            value=ast.Name(id=result, ctx=ast.Load()), attr="append", ctx=ast.Load()
        )
        body: ast.stmt = ast.Expr(
            value=ast.Call(func=append, args=[renamed(node.elt)], keywords=[])
        )
        for target, iterable, conditions in reversed(loops):
            for condition in reversed(conditions):
                body = ast.If(test=condition, body=[body], orelse=[])
            body = ast.For(target=target, iter=iterable, body=[body], orelse=[])
        where = self.statement
        self.emit(
            ast.Assign(
                targets=[ast.Name(id=result, ctx=ast.Store())],
                value=ast.List(elts=[], ctx=ast.Load()),
            )
        )
        loop = ast.fix_missing_locations(ast.copy_location(body, where))
        for inner in ast.walk(loop):
            if isinstance(inner, ast.stmt | ast.expr):
                ast.copy_location(inner, node)
        self.normalize_statement(loop)
        self.statement = where
        return ast.Name(id=result, ctx=ast.Load())

    def conditional(self, node: ast.IfExp) -> ast.Name:
        """``a if c else b`` as an if statement assigning a temporary in both branches."""
        test = self.atom(node.test)
        name = self.names.numbered("tmp")
        self.temporaries.add(name)
        self.mutable.add(name)
        branches = []
        for value in (node.body, node.orelse):
            outer_body, self.body = self.body, []
            self.emit(
                ast.Assign(
                    targets=[ast.Name(id=name, ctx=ast.Store())], value=self.expression(value)
                )
            )
            branches.append(self.body)
            self.body = outer_body
        self.emit(ast.If(test=test, body=branches[0], orelse=branches[1]))
        return ast.Name(id=name, ctx=ast.Load())

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
        if isinstance(node, ast.Compare) and len(node.ops) > 1:  # a < b < c: a < b and b < c
            left, middle = self.atom(node.left), self.atom(node.comparators[0])
            first = ast.Compare(left=left, ops=node.ops[:1], comparators=[middle])
            rest = ast.Compare(left=middle, ops=node.ops[1:], comparators=node.comparators[1:])
            both = ast.BoolOp(op=ast.And(), values=[first, ast.copy_location(rest, node)])
            return self.expression(ast.copy_location(both, node))
        if isinstance(node, ast.Compare):
            return ast.Compare(
                left=self.atom(node.left),
                ops=node.ops,
                comparators=[self.atom(c) for c in node.comparators],
            )
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.IfExp):
            return self.conditional(node)
        if isinstance(node, ast.BoolOp):  # a and b: b if a else a;  a or b: a if a else b
            first = self.atom(node.values[0])
            rest = node.values[1:]
            remaining = rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
            remaining = ast.copy_location(remaining, node)
            if isinstance(node.op, ast.And):
                choice = ast.IfExp(test=first, body=remaining, orelse=first)
            else:
                choice = ast.IfExp(test=first, body=first, orelse=remaining)
            return self.conditional(ast.copy_location(choice, node))
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            return self.comprehension(node)
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
        if node.id in self.mutable:
            return ast.Name(id=node.id, ctx=ast.Load())  # bound in a branch or a loop
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

        return Renamer().visit(clone(statement))

    def unsupported(
        self, node: ast.AST, what: str, advice: str = "it is not supported yet"
    ) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} in {self.tree.name}: {advice}",
            self.parsed.location(node),
        )


def _assigned_names(tree: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(tree):
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
        for n in ast.walk(t)
        if isinstance(n, ast.Name)
    ]


def _is_builtin_call(node: ast.expr, local_names: set[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id not in local_names
    )


def _assigned_in_blocks(body: list[ast.stmt]) -> set[str]:
    """Names assigned inside a branch or a loop (they cannot get one version per assignment)."""
    names = set()
    for statement in body:
        if isinstance(statement, ast.If | ast.For | ast.While):
            for node in ast.walk(statement):
                names.update(_targets(node))
                if isinstance(node, ast.For):
                    names.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
    return names


def lift_returns(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Move the code after an ``if`` that returns on some path into the paths that do not.

    Afterwards a return is the last statement of every path, so each can become an assignment
    of the result.
    """
    for index, statement in enumerate(statements):
        if isinstance(statement, ast.If) and any(
            isinstance(node, ast.Return) for node in ast.walk(statement)
        ):
            rest = statements[index + 1 :]
            body = statement.body if always_returns(statement.body) else statement.body + rest
            orelse = (
                statement.orelse if always_returns(statement.orelse) else statement.orelse + rest
            )
            lifted = ast.If(
                test=statement.test, body=lift_returns(body), orelse=lift_returns(orelse)
            )
            return [*statements[:index], ast.copy_location(lifted, statement)]
    return statements


def _without_jumps(tree: ast.FunctionDef, names: NameAllocator) -> ast.FunctionDef:
    """``tree`` with every return inside a loop, break and continue replaced by flags (see the
    module docstring)."""
    jumps = any(isinstance(n, ast.Break | ast.Continue) for n in ast.walk(tree))
    if not jumps and not _returns_in_loops(tree.body):
        return tree
    tree = clone(tree)
    if _returns_in_loops(tree.body):
        returned, value = names.fresh("returned"), names.fresh("returned_value")
        start = [
            ast.Assign(
                targets=[ast.Name(id=returned, ctx=ast.Store())], value=ast.Constant(False)
            ),
            ast.Assign(targets=[ast.Name(id=value, ctx=ast.Store())], value=ast.Constant(None)),
        ]
        for statement in start:
            ast.fix_missing_locations(ast.copy_location(statement, tree.body[0]))
        tree.body = start + _returns_as_breaks(tree.body, returned, value, in_loop=False)
    tree.body = _rewrite_loops(tree.body, names)
    return tree


def _returns_in_loops(statements: list[ast.stmt]) -> bool:
    return any(
        isinstance(loop, ast.For | ast.While)
        and any(isinstance(n, ast.Return) for n in ast.walk(loop))
        for statement in statements
        for loop in ast.walk(statement)
    )


def _returns_as_breaks(
    statements: list[ast.stmt], returned: str, value: str, in_loop: bool
) -> list[ast.stmt]:
    """A return inside a loop becomes ``returned_value = e; returned = True; break``; after a
    loop that may have returned, ``if returned: break`` inside another loop, or
    ``if returned: return returned_value`` outside any."""

    def at(node: ast.stmt, where: ast.stmt) -> ast.stmt:
        return ast.fix_missing_locations(ast.copy_location(node, where))

    out: list[ast.stmt] = []
    for statement in statements:
        if isinstance(statement, ast.Return) and in_loop:
            out += [
                at(
                    ast.Assign(
                        targets=[ast.Name(id=value, ctx=ast.Store())], value=statement.value
                    ),
                    statement,
                ),
                at(
                    ast.Assign(
                        targets=[ast.Name(id=returned, ctx=ast.Store())], value=ast.Constant(True)
                    ),
                    statement,
                ),
                at(ast.Break(), statement),
            ]
            continue
        if isinstance(statement, ast.If):
            statement.body = _returns_as_breaks(statement.body, returned, value, in_loop)
            statement.orelse = _returns_as_breaks(statement.orelse, returned, value, in_loop)
            out.append(statement)
            continue
        if isinstance(statement, ast.For | ast.While) and _returns_in_loops([statement]):
            statement.body = _returns_as_breaks(statement.body, returned, value, in_loop=True)
            out.append(statement)
            exit_: ast.stmt = (
                ast.Break() if in_loop else ast.Return(value=ast.Name(id=value, ctx=ast.Load()))
            )
            test = ast.Name(id=returned, ctx=ast.Load())
            out.append(at(ast.If(test=test, body=[at(exit_, statement)], orelse=[]), statement))
            continue
        out.append(statement)
    return out


def _rewrite_loops(statements: list[ast.stmt], names: NameAllocator) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for statement in statements:
        if isinstance(statement, ast.If):
            statement.body = _rewrite_loops(statement.body, names)
            statement.orelse = _rewrite_loops(statement.orelse, names)
            out.append(statement)
        elif isinstance(statement, ast.For | ast.While):
            statement.body = _rewrite_loops(statement.body, names)
            out.extend(_loop_without_jumps(statement, names))
        else:
            out.append(statement)
    return out


def _jumps(statements: list[ast.stmt], kind: type) -> bool:
    """Whether ``statements`` hold a ``kind`` (Break or Continue) of this loop level."""
    for statement in statements:
        if isinstance(statement, kind):
            return True
        if isinstance(statement, ast.If) and (
            _jumps(statement.body, kind) or _jumps(statement.orelse, kind)
        ):
            return True
    return False


def _loop_without_jumps(loop: ast.For | ast.While, names: NameAllocator) -> list[ast.stmt]:
    breaks, continues = _jumps(loop.body, ast.Break), _jumps(loop.body, ast.Continue)
    if not breaks and not continues:
        return [loop]

    def located(node: ast.AST) -> ast.AST:
        return ast.fix_missing_locations(ast.copy_location(node, loop))

    def assign(name: str, value: ast.expr) -> ast.stmt:
        return located(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value))

    skip = names.fresh("skip")
    stop = names.fresh("stop") if breaks else None
    body = [assign(skip, ast.Constant(False)), *_guarded(loop.body, skip, stop, assign)]
    before: list[ast.stmt] = []
    if stop is not None:
        before.append(assign(stop, ast.Constant(False)))
    if isinstance(loop, ast.While) or stop is None:
        if stop is not None:
            loop.test = located(
                ast.IfExp(
                    test=ast.Name(id=stop, ctx=ast.Load()),
                    body=ast.Constant(False),
                    orelse=loop.test,
                )
            )
        loop.body = body
        return [*before, loop]
    # `for target in range(...)` with a break: walk the range's indices while not stopped.
    steps, index = names.fresh("steps"), names.fresh("step")
    is_range = (
        isinstance(loop.iter, ast.Call)
        and isinstance(loop.iter.func, ast.Name)
        and loop.iter.func.id == "range"
        and isinstance(loop.target, ast.Name)
    )
    if not is_range:  # the fence refuses these
        raise InternalError("a break in a loop over something else than range reached normalize")
    length = ast.Call(
        func=ast.Name(id="len", ctx=ast.Load()),
        args=[ast.Name(id=steps, ctx=ast.Load())],
        keywords=[],
    )
    more = ast.Compare(
        left=ast.Name(id=index, ctx=ast.Load()), ops=[ast.Lt()], comparators=[length]
    )
    test = ast.IfExp(test=ast.Name(id=stop, ctx=ast.Load()), body=ast.Constant(False), orelse=more)
    step = ast.Subscript(
        value=ast.Name(id=steps, ctx=ast.Load()),
        slice=ast.Name(id=index, ctx=ast.Load()),
        ctx=ast.Load(),
    )
    advance = ast.BinOp(
        left=ast.Name(id=index, ctx=ast.Load()), op=ast.Add(), right=ast.Constant(1)
    )
    while_body = [assign(loop.target.id, step), assign(index, advance), *body]
    return [
        *before,
        assign(steps, loop.iter),
        assign(index, ast.Constant(0)),
        located(ast.While(test=located(test), body=while_body, orelse=[])),
    ]


def _guarded(statements: list[ast.stmt], skip: str, stop: str | None, assign) -> list[ast.stmt]:
    """``statements`` with break/continue turned into flag assignments, and the statements
    after one that may jump run only ``if not skip``."""
    out: list[ast.stmt] = []
    for index, statement in enumerate(statements):
        if isinstance(statement, ast.Continue | ast.Break):
            out.append(assign(skip, ast.Constant(True)))
            if isinstance(statement, ast.Break):
                out.append(assign(stop, ast.Constant(True)))
            return out  # the rest of this block never runs
        if isinstance(statement, ast.If) and (
            _jumps([statement], ast.Break) or _jumps([statement], ast.Continue)
        ):
            statement.body = _guarded(statement.body, skip, stop, assign) or [ast.Pass()]
            statement.orelse = _guarded(statement.orelse, skip, stop, assign)
            out.append(statement)
            rest = _guarded(statements[index + 1 :], skip, stop, assign)
            if rest:
                test = ast.UnaryOp(op=ast.Not(), operand=ast.Name(id=skip, ctx=ast.Load()))
                guard = ast.If(test=test, body=rest, orelse=[])
                out.append(ast.fix_missing_locations(ast.copy_location(guard, statement)))
            return out
        out.append(statement)
    return out


def _stored_names(statements: list[ast.stmt]) -> set[str]:
    """The names ``statements`` bind anywhere (assignments, loop targets, nested blocks)."""
    return {
        node.id
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
