r"""The normaliser's expressions: each operation of an expression on a line of its own.

``ExpressionNormalizer.expression`` returns an operation on atoms (see the grammar in
``normalize.py``) after emitting a temporary for each operand that is not an atom, in the order
Python evaluates them; ``atom`` returns an atom. Conditional expressions, ``and``/``or`` and
comprehensions, which decide what runs, become statements (an ``if``, a loop appending to a new
list). The statements and their names (versions of reassigned names, the body being built) are
the normaliser's, in ``normalize.py``.

>>> from overbar.transpiler.normalize import show
>>> print(show("def f(x, y):\n    return np.sum(x * y + 1.0) if x[0] > 0 else -y[1]"))
def f(x, y):
    tmp1 = x[0]
    tmp2 = tmp1 > 0
    if tmp2:
        tmp4 = x * y
        tmp5 = tmp4 + 1.0
        tmp3 = np.sum(tmp5)
    else:
        tmp6 = y[1]
        tmp3 = -tmp6
    return tmp3
"""

from __future__ import annotations

import ast
import builtins

from overbar.transpiler.names import clone, fix_missing_locations, walk_breadth_first


def is_global_path(node: ast.expr, local_names: frozenset[str] | set[str]) -> bool:
    """``a.b.c`` where ``a`` is not a local name: it refers to something outside the function."""
    if not isinstance(node, ast.Attribute):
        return False
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id not in local_names


class ExpressionNormalizer:
    """The normaliser's methods for expressions (a base of ``normalize._Normalizer``, whose
    statements they emit)."""

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
            for target in walk_breadth_first(generator.target):
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
        loop = fix_missing_locations(ast.copy_location(body, where))
        for inner in walk_breadth_first(loop):
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
        """Whether ``node`` is an atom of the grammar above."""
        if isinstance(node, ast.Name | ast.Constant):
            return True
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.is_atom(element) for element in node.elts)
        return is_global_path(node, self.local_names)

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
        if isinstance(node, ast.Dict):  # literal keys (the fence checked), values as atoms
            values = [self.atom(value) for value in node.values]  # each computed, in order
            if not all(isinstance(key, ast.Constant) for key in node.keys):
                # generated code's {k: v}: keys as they are (the last value under a key is
                # known only when it runs)
                return ast.Dict(keys=[clone(key) for key in node.keys], values=values)
            last = {key.value: value for key, value in zip(node.keys, values, strict=True)}
            keys = [ast.Constant(value=key) for key in last]  # the last value under a key
            return ast.Dict(keys=keys, values=list(last.values()))
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

    def call(self, node: ast.Call) -> ast.expr:
        function = node.func
        display = self.dict_display(node)
        if display is not None:  # dict(a=x), dict([("a", x)]), dict({"a": x}, b=y)
            return self.expression(ast.copy_location(display, node))
        if isinstance(function, ast.Name) and function.id in self.lambdas:
            return self.inlined(node, self.lambdas[function.id])
        if (
            is_global_path(function, self.assigned_anywhere)
            or (isinstance(function, ast.Name) and function.id not in self.assigned_anywhere)
            or (isinstance(function, ast.Name) and function.id in self.functions)
        ):
            callee = function
        elif isinstance(function, ast.Attribute):
            receiver = self.atom(function.value)
            callee = ast.Attribute(value=receiver, attr=function.attr, ctx=ast.Load())
        elif isinstance(function, ast.Name) and function.id in self.called_objects:
            # cell(h) of a parameter bound to no function: the method cell.__call__(h), which
            # the sweep finds in the object's class as it finds model.loss(x)'s
            receiver = self.atom(function)
            callee = ast.Attribute(value=receiver, attr="__call__", ctx=ast.Load())
        else:
            raise self.unsupported(
                function,
                f"a call of the local variable {ast.unparse(function)}",
                "call the function by its global name, or pass it to a helper by its name "
                "(apply(np.tanh, x), apply(f, x) with f a helper's parameter bound so), so "
                "that overbar knows which function it is; an object is called where it is "
                "an argument, or made once in the function of a class whose __init__ only "
                "stores its arguments (self.W = W)",
            )
        return ast.Call(
            func=callee,
            args=[self.atom(argument) for argument in node.args],
            keywords=[ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords],
        )

    def dict_display(self, node: ast.Call) -> ast.Dict | None:
        """``dict(...)`` as the display it makes, where its keys are written in it: keywords,
        a display, or a tuple or list of pairs with literal keys (the keywords after them);
        None for any other call."""
        function = node.func
        namespace = self.parsed.namespace
        if (
            namespace is None
            or not (
                is_global_path(function, self.assigned_anywhere)
                or (isinstance(function, ast.Name) and function.id not in self.assigned_anywhere)
            )
            or namespace.resolve(function) is not builtins.dict
            or len(node.args) > 1
            or any(keyword.arg is None for keyword in node.keywords)
        ):
            return None
        entries: list[tuple[ast.expr, ast.expr]] = []
        if node.args:
            given = node.args[0]
            if isinstance(given, ast.Dict):
                entries = list(zip(given.keys, given.values, strict=True))
            elif isinstance(given, ast.Tuple | ast.List) and all(
                isinstance(pair, ast.Tuple) and len(pair.elts) == 2 for pair in given.elts
            ):
                entries = [(pair.elts[0], pair.elts[1]) for pair in given.elts]
            else:
                return None
        entries += [(ast.Constant(value=k.arg), k.value) for k in node.keywords]
        if not all(
            isinstance(key, ast.Constant) and type(key.value) in (str, int) for key, _ in entries
        ):
            return None
        return ast.Dict(keys=[key for key, _ in entries], values=[value for _, value in entries])

    def inlined(self, node: ast.Call, definition: ast.Lambda) -> ast.expr:
        """``f(a, b)`` of ``f = lambda x, y: e``: ``e`` with the arguments' atoms for ``x`` and
        ``y`` (evaluated first, as the call does), normalised where the call is."""
        parameters = [argument.arg for argument in definition.args.args]
        given = dict(zip(parameters, node.args, strict=False))
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        fits = len(node.args) <= len(parameters) and len(keywords) == len(node.keywords)
        fits = (
            fits
            and not (set(keywords) & set(given))
            and set(given) | set(keywords) == set(parameters)
        )
        given.update(keywords)
        if not fits:
            raise self.unsupported(
                node,
                f"this call of the lambda {ast.unparse(node.func)}",
                "pass each of its parameters once",
            )
        atoms = {name: self.atom(value) for name, value in given.items()}

        class Substitute(ast.NodeTransformer):
            def visit_Name(self, name: ast.Name) -> ast.expr:
                return clone(atoms[name.id]) if name.id in atoms else name

        body = Substitute().visit(clone(definition.body))
        return self.expression(ast.copy_location(body, node))

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


def _is_builtin_call(node: ast.expr, local_names: set[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id not in local_names
    )
