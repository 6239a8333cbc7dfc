"""The fence's whole-function checks of changes in place: writes into arrays (``y[i] = v``),
appends to lists (``xs.append(v)``) and augmented assignments (``v += e``).

Each is allowed only where nothing but the changed name can see the change: the name is local,
every binding of it makes a new object, and until the change it is read only in ways that copy.
The adjoint then sees the same values as the forward function. Anything else raises
``UnsupportedSyntaxError`` at the construct. Unlike the construct-by-construct checks of
``fence.py``, these look at every use of a name in the function, so each walks the function once
per name it checks (names written into, appended to, or augmented inside a block), not once per
statement.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types
from typing import Any

from overbar.transpiler.fence_scope import CHANGES, FenceScope, bound_names, is_append
from overbar.transpiler.names import statements_breadth_first, walk_breadth_first

# Methods of an array that return a new object, never the array or a view of it (without an
# ``out=`` argument): ``p.sum()`` reads p as arithmetic does. Not ``reshape``, ``ravel``,
# ``T``, ``view``, ``squeeze``, ``astype`` (``copy=False`` may return the array itself).
COPYING_METHODS = frozenset(
    {"sum", "mean", "prod", "max", "min", "std", "var", "dot", "copy", "cumsum", "cumprod"}
    | {"any", "all", "argmax", "argmin", "trace", "item", "tolist", "flatten", "round", "clip"}
)


def returns_new_values(function: Any) -> bool:
    """Whether ``function`` is a plain Python function (not a generator) whose every
    ``return`` gives arithmetic (``return u[:-2] - 2 * u[1:-1] + u[2:]``): a new array, made
    when the call runs, so no view of an argument outlives the call (the helper's own writes
    into its arguments are refused when it is checked, as every function's are)."""
    if not inspect.isfunction(function):
        return False
    return _returns_arithmetic(function.__code__)


@functools.lru_cache(maxsize=512)
def _returns_arithmetic(code: types.CodeType) -> bool:
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        return False
    try:
        lines, _ = inspect.getsourcelines(code)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.FunctionDef) or definition.name != code.co_name:
        return False
    returns = []
    pending = list(definition.body)
    while pending:  # the function's own statements, not those of functions it defines
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Return):
            returns.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return bool(returns) and all(
        isinstance(r.value, ast.BinOp | ast.UnaryOp | ast.Compare) for r in returns
    )


class InPlaceChecks(FenceScope):
    """The checks of changes in place, on the scope of the function being checked."""

    def check_writes(self, body: list[ast.stmt]) -> None:
        """``y[i] = v`` changes y in place: allow it only where nothing else can see y change.

        Every binding of y must make a new array (np.zeros, np.copy, x.copy(), arithmetic...),
        so no argument and no other name shares it; and until the last write into y, y may
        only be read in ways that copy: as an operand of arithmetic or a comparison (``y[i]``
        included), or as an argument of a library function that returns a new array. A read
        that could give a view (``row = y[0]``, ``z = y``, ``y.reshape(...)``) is allowed only
        after the last write, when y no longer changes.
        """
        written = {
            target.value.id
            for statement in body
            for node in statements_breadth_first(statement)  # assignments are statements
            if isinstance(node, ast.Assign | ast.AugAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Subscript)
        }
        for name in sorted(written):
            self.check_owned_array(body, name)

    def check_owned_array(self, body: list[ast.stmt], name: str) -> None:
        if name not in self.local_names:
            write = next(
                target
                for statement in body
                for node in walk_breadth_first(statement)
                if _writes_into(node, name)
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Subscript)
            )
            raise self.refuse(
                write,
                f"a write into {name}, {self.describe_outside(name)},",
                f"{CHANGES}; pass {name} in as an argument and return the new value instead",
            )
        if name in self.parameters:
            raise self.refuse(
                self.tree,
                f"a write into the argument {name}",
                f"it would change the caller's array; write into a copy ({name}_copy = "
                f"{name}.copy())",
            )
        last_write = max(
            index
            for index, statement in enumerate(body)
            for node in walk_breadth_first(statement)
            if _writes_into(node, name)
        )
        copying: set[int] = set()
        for index, statement in enumerate(body):
            for node in walk_breadth_first(statement):
                rebinds = isinstance(node, ast.stmt) and name in bound_names(node)
                shared = isinstance(node, ast.Assign) and len(node.targets) > 1  # a = b = ...
                if rebinds and (shared or not self.creates_array(getattr(node, "value", None))):
                    raise self.refuse(
                        node,
                        f"a write into {name}, which may share its memory with another " "array",
                        f"make {name} a new array (np.zeros(...), np.copy(...), x.copy()) "
                        "before writing into it",
                    )
                if _writes_into(node, name):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    copying.update(id(t.value) for t in targets if isinstance(t, ast.Subscript))
                    if isinstance(node, ast.AugAssign):
                        copying.add(id(node.target.value))
                elif isinstance(node, ast.BinOp | ast.UnaryOp | ast.Compare):
                    operands = (
                        [node.operand]
                        if isinstance(node, ast.UnaryOp)
                        else (
                            [node.left, node.right]
                            if isinstance(node, ast.BinOp)
                            else [node.left, *node.comparators]
                        )
                    )
                    for operand in operands:
                        copying.add(id(operand))
                        if isinstance(operand, ast.Subscript):
                            copying.add(id(operand.value))
                elif isinstance(node, ast.Call) and self.copies_arguments(node):
                    # np.array([y[i], y[j]]) copies the elements of a display as it copies y[i]
                    parts = [
                        part
                        for a in node.args
                        for part in ([a, *a.elts] if isinstance(a, ast.List | ast.Tuple) else [a])
                    ]
                    copying.update(id(a) for a in parts)
                    copying.update(id(a.value) for a in parts if isinstance(a, ast.Subscript))
                elif _is_copying_method_call(node):  # after np.var(y): a function, not a method
                    copying.add(id(node.func.value))  # y.sum(): a new value, not a view
            read = None
            if index < last_write:
                read = _read_outside([statement], name, copying)
            elif index == last_write:
                read = _read_outside(self.until_last_write(statement, name), name, copying)
            if read is not None:
                raise self.refuse(
                    read,
                    f"a read of {name} that may be a view of it, before a later write into {name}",
                    "the view would change with the write; read it with arithmetic "
                    f"(y[i] * 1.0) or after the last write into {name}",
                )

    def until_last_write(self, statement: ast.stmt, name: str) -> list[ast.stmt]:
        """The part of ``statement`` (the one with the last write into ``name``) in which a
        read of ``name`` may see a later write: all of it, but for a loop whose body binds
        ``name`` to a new array before it mentions it otherwise (``u_new = u.copy()``, then
        ``u_new[1:-1] = ...``, then ``u = u_new``), the body up to its last write: each trip
        writes into the array it made, so a view taken after that write sees no other."""
        if not isinstance(statement, ast.For | ast.While) or statement.orelse:
            return [statement]
        header = statement.iter if isinstance(statement, ast.For) else statement.test
        body = statement.body
        first = next(
            (
                i
                for i, s in enumerate(body)
                if any(_mentions(n, name) for n in walk_breadth_first(s))
            ),
            None,
        )
        fresh = (
            first is not None
            and not any(_mentions(n, name) for n in walk_breadth_first(header))
            and isinstance(body[first], ast.Assign)
            and len(body[first].targets) == 1
            and isinstance(body[first].targets[0], ast.Name)
            and body[first].targets[0].id == name
            and self.creates_array(body[first].value)
            and not any(_mentions(n, name) for n in walk_breadth_first(body[first].value))
        )
        if not fresh:
            return [statement]
        writes = [
            i for i, s in enumerate(body) for n in walk_breadth_first(s) if _writes_into(n, name)
        ]
        return body[: max(writes) + 1]

    def creates_array(self, value: ast.expr | None) -> bool:
        """Whether ``value`` certainly evaluates to a new array no other name refers to."""
        if isinstance(value, ast.BinOp | ast.UnaryOp):
            return True
        if not isinstance(value, ast.Call):
            return False
        if isinstance(value.func, ast.Attribute) and value.func.attr == "copy":
            return True
        function = self.resolve(value.func)
        return (
            function in self.array_makers
            or self.copies_arguments(value)
            or returns_new_values(function)
        )

    def copies_arguments(self, call: ast.Call) -> bool:
        """A call of a library function that returns a new array (not a view of an argument),
        or of a helper of the user's each of whose returns is arithmetic."""
        function = self.resolve(call.func)
        if function in self.copying_unless:
            return _leaves_out_or_avoids(call, *self.copying_unless[function])
        return function in self.copying_functions or returns_new_values(function)

    def check_appends(self, body: list[ast.stmt]) -> None:
        """``xs.append(v)`` changes the list in place; allow it where nothing else sees xs.

        xs must be a local bound only to list displays, and read only as the receiver of
        append, as an argument of a NumPy or builtin function, by indexing, or by a for loop.
        """
        appended = {
            node.value.func.value.id
            for statement in body
            for node in statements_breadth_first(statement)  # an append is a statement
            if isinstance(node, ast.Expr) and is_append(node)
        }
        for name in sorted(appended):
            self.check_owned_list(body, name)

    def check_owned_list(self, body: list[ast.stmt], name: str) -> None:
        if name not in self.local_names:
            append = next(
                node
                for statement in body
                for node in walk_breadth_first(statement)
                if isinstance(node, ast.Expr)
                and is_append(node)
                and node.value.func.value.id == name
            )
            raise self.refuse(
                append,
                f"appending to {name}, {self.describe_outside(name)},",
                f"{CHANGES}; pass {name} in as an argument and return the new value instead",
            )
        allowed: set[int] = set()
        for statement in body:
            for node in walk_breadth_first(statement):
                binds = isinstance(node, ast.stmt) and name in bound_names(node)
                if binds and not isinstance(getattr(node, "value", None), ast.List):
                    raise self.refuse(
                        node,
                        f"the list {name}, appended to, bound to something not a list display",
                        f"start it as {name} = [] and only append to it",
                    )
                if isinstance(node, ast.Expr) and is_append(node):
                    allowed.add(id(node.value.func.value))
                elif isinstance(node, ast.Call) and self.is_library_call(node):
                    allowed.update(id(a) for a in node.args)
                elif isinstance(node, ast.Subscript):
                    allowed.add(id(node.value))
                elif isinstance(node, ast.For):
                    allowed.add(id(node.iter))
        if name in self.parameters:
            raise self.refuse(
                self.tree, f"appending to the argument {name}", "append to a list of your own"
            )
        read = _read_outside(body, name, allowed)
        if read is not None:
            raise self.refuse(
                read,
                f"this use of the list {name}, which is appended to",
                "another name or function could keep it and see it change; read it "
                "with indexing, len() or NumPy functions only",
            )

    def is_library_call(self, call: ast.Call) -> bool:
        """A call of a NumPy function or a builtin (which do not keep their arguments)."""
        namespace = self.parsed.namespace
        if namespace is None:
            return False
        function = namespace.resolve(call.func)
        module = getattr(function, "__module__", None) or ""
        return module.startswith("numpy") or module == "builtins" or function is len

    def check_augmented_assignments(self, body: list[ast.stmt]) -> None:
        """``v += e`` on an array changes it in place; allow it only where no one else sees v.

        It is rewritten to ``v = v + e``, which is the same computation exactly when the object v
        names is not shared. At the top level: v was last bound to a fresh arithmetic result or a
        constant, and has since been used only as an operand of arithmetic or comparisons. Inside
        a branch or a loop (where "since" is harder to tell): every binding of v in the function
        is fresh, and every use of v is an operand of arithmetic, a comparison or the return.
        """
        for index, statement in enumerate(body):
            if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
                binding = _last_binding(body[:index], statement.target.id)
                window = body[body.index(binding) + 1 : index] if binding else []
                self.check_augmented(statement, self.is_fresh_binding(binding), window)
        nested = [
            node
            for statement in body
            if not isinstance(statement, ast.AugAssign)
            for node in walk_breadth_first(statement)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)
        ]
        for statement in nested:
            name = statement.target.id
            bindings = [
                node
                for top in body
                for node in walk_breadth_first(top)
                if isinstance(node, ast.stmt) and name in bound_names(node)
            ]
            fresh = all(self.is_fresh_binding(b) for b in bindings if not _is_loop(b))
            fresh = fresh and not any(_is_loop(b) for b in bindings)
            self.check_augmented(statement, fresh, body)

    def is_fresh_binding(self, statement: ast.stmt | None) -> bool:
        """Whether ``statement`` binds a single name to a new object no one else refers to:
        arithmetic, a constant, or a call that makes a new array (``np.zeros_like(x)``,
        ``x.copy()``, a library function that copies)."""
        if _is_fresh_binding(statement):
            return True
        return (
            isinstance(statement, ast.Assign | ast.AnnAssign)
            and (isinstance(statement, ast.AnnAssign) or len(statement.targets) == 1)
            and isinstance(_single_target(statement), ast.Name)
            and self.creates_array(statement.value)
        )

    def check_augmented(self, statement: ast.AugAssign, fresh: bool, window: list) -> None:
        name = statement.target.id
        if self.holds_a_number(name, self.numbers):
            return  # a Python number is never changed in place: i -= 1 is i = i - 1
        if self.extends_unshared_sequence(statement):
            return
        advice = (
            f"write {name} = {name} {_operator_symbol(statement.op)} ... (the in-place "
            "update would also change every array that shares its memory)"
        )
        reason = f"{name} may share its array with another name"
        if isinstance(statement.value, ast.List | ast.Tuple):  # xs += [v] extends a list
            reason = (
                f"{name} may be a list another name holds too (Python extends it in place), "
                "or one not made new here"
            )
        if self.holds_a_number(name, self.parameters):  # i = steps, steps not known an int
            reason = (
                f"{name} is bound from an argument not known to be an int (this call's is not "
                "one, or the adjoint is compiled for arguments of any kind), and an array "
                "would be changed in place, with every name sharing it"
            )
        if name in self.parameters and not fresh:
            raise self.refuse(
                statement,
                f"an augmented assignment to the argument {name}",
                f"it would change the caller's array; {advice}",
            )
        if not fresh or _used_outside_arithmetic(window, name, self.copies_arguments):
            raise self.refuse(
                statement,
                f"an augmented assignment to {name}",
                f"{reason}; {advice}",
            )

    def extends_unshared_sequence(self, statement: ast.AugAssign) -> bool:
        """``v += [a, b]``, ``v += (a,)`` or ``v *= 3`` where v is a new tuple or list no other
        name holds: Python extends (or repeats) a list in place there, which only v sees, so
        it is ``v = v + [a, b]`` (``v = v * 3``), the rewrite; a tuple is rebound alike.

        Side conditions: the value is a display of v's own kind (a list display for a list
        display v; Python extends a list by a tuple, which ``+`` refuses), or for ``*=`` an
        integer literal; v is not a parameter, and every binding of v is a tuple or list
        display or another augmented assignment (so v is a tuple or list: a slice of it is a
        copy, not a view as of an array; a join ``v = a + b`` may be an array's sum, which
        the checks of arrays below decide); a v only ever bound to tuples may be held by
        other names (a tuple never changes), else v is read only by indexing (``v[-1]``: an
        element, not the list), as an operand of arithmetic, an argument of a NumPy
        function or a builtin, a loop's iterable or the value returned, none of which keeps
        the list to see it change (``w = v``, ``helper(v)`` or ``v.append`` would)."""
        name = statement.target.id
        value = statement.value
        if name in self.parameters:
            return False
        if isinstance(statement.op, ast.Mult):
            if not (isinstance(value, ast.Constant) and type(value.value) is int):
                return False
        elif not (isinstance(statement.op, ast.Add) and isinstance(value, ast.List | ast.Tuple)):
            return False
        kinds: set[type] = set()
        allowed: set[int] = set()
        for node in walk_breadth_first(self.tree):
            if isinstance(node, ast.stmt) and name in bound_names(node):
                if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                    if isinstance(node.value, ast.List | ast.Tuple):
                        kinds.add(type(node.value))
                    continue
                if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                    return False
                if not isinstance(node.value, ast.List | ast.Tuple):
                    return False  # v = a * 2: maybe an array, whose slices are views
                kinds.add(type(node.value))
            if isinstance(node, ast.Subscript):
                allowed.add(id(node.value))
            elif isinstance(node, ast.BinOp):
                allowed.update((id(node.left), id(node.right)))
            elif isinstance(node, ast.For):
                allowed.add(id(node.iter))
            elif isinstance(node, ast.Return):
                allowed.add(id(node.value))
            elif isinstance(node, ast.Call) and self.is_library_call(node):
                allowed.update(id(argument) for argument in node.args)
        if isinstance(statement.op, ast.Add) and kinds and kinds != {type(value)}:
            return False
        if kinds == {ast.Tuple}:
            return True  # only ever a tuple, which no one changes: another name may hold it
        return not any(
            isinstance(node, ast.Name)
            and node.id == name
            and isinstance(node.ctx, ast.Load)
            and id(node) not in allowed
            for node in walk_breadth_first(self.tree)
        )

    def holds_a_number(
        self, name: str, numbers: set | frozenset, seen: frozenset = frozenset()
    ) -> bool:
        """Whether ``name`` holds a Python number wherever it is bound (so that ``name += e``
        with ``e`` a number rebinds it, and changes nothing another name sees): every binding is
        a number expression (``is_number``), the target of a ``for`` over a ``range``, or an
        augmented assignment of a number; a parameter must be one of ``numbers`` (an int
        argument the specialisation sees)."""
        if name in self.parameters and name not in numbers:
            return False
        seen = seen | {name}
        for node in walk_breadth_first(self.tree):
            if not isinstance(node, ast.stmt) or name not in bound_names(node):
                continue
            if isinstance(node, ast.For):
                if not (
                    isinstance(node.target, ast.Name)
                    and isinstance(node.iter, ast.Call)
                    and self.resolve(node.iter.func) is range
                    and not self.is_local_call(node.iter)
                ):
                    return False
                continue
            rebinds = (isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)) or (
                isinstance(node, ast.Assign) and [type(t) for t in node.targets] == [ast.Name]
            )
            if not rebinds or not self.is_number(node.value, numbers, seen):
                return False
        return True

    def is_number(self, value: ast.expr, numbers: set | frozenset, seen: frozenset) -> bool:
        """Whether ``value`` is certainly a Python number: an int or float literal, ``len``,
        ``int`` or ``float`` of anything, an array's ``ndim``, ``size`` or ``shape[k]``, a name
        that holds a number, or arithmetic of these."""
        if isinstance(value, ast.Constant):
            return type(value.value) in (int, float)
        if isinstance(value, ast.Name):
            return value.id in seen or self.holds_a_number(value.id, numbers, seen)
        if isinstance(value, ast.BinOp):
            return self.is_number(value.left, numbers, seen) and self.is_number(
                value.right, numbers, seen
            )
        if isinstance(value, ast.UnaryOp):
            return self.is_number(value.operand, numbers, seen)
        if isinstance(value, ast.Call):
            return not self.is_local_call(value) and self.resolve(value.func) in (len, int, float)
        if isinstance(value, ast.Attribute):
            return value.attr in ("ndim", "size")
        return (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Attribute)
            and value.value.attr == "shape"
            and isinstance(value.slice, ast.Constant | ast.UnaryOp)
        )

    def is_local_call(self, call: ast.Call) -> bool:
        """A call of a name the function binds (``len = ...``): not the builtin."""
        return isinstance(call.func, ast.Name) and call.func.id in self.local_names


def _is_loop(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.For | ast.While)


def _last_binding(statements: list[ast.stmt], name: str) -> ast.stmt | None:
    """The last statement before this point that binds ``name``, or None."""
    for statement in reversed(statements):
        if any(name in bound_names(node) for node in walk_breadth_first(statement)):
            return statement  # a compound statement binding it inside is not a fresh binding
    return None


def _is_fresh_binding(statement: ast.stmt | None) -> bool:
    """Whether ``statement`` binds a single name to a new object no one else refers to."""
    if isinstance(statement, ast.AugAssign):
        return True  # itself rewritten to `v = v op e`, a new object
    if isinstance(statement, ast.Assign) and len(statement.targets) > 1:
        return False  # a = b = ...: both names hold the one object
    return (
        isinstance(statement, ast.Assign | ast.AnnAssign)
        and isinstance(_single_target(statement), ast.Name)
        and isinstance(statement.value, ast.BinOp | ast.UnaryOp | ast.Constant)
    )


def _single_target(statement: ast.Assign | ast.AnnAssign) -> ast.expr:
    return statement.targets[0] if isinstance(statement, ast.Assign) else statement.target


def _is_copying_method_call(node: ast.AST) -> bool:
    """``y.sum()``, ``y.mean(axis=0)``, ...: a method of ``COPYING_METHODS`` called without
    ``out=`` (which would return the array it writes into) or ``**options``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in COPYING_METHODS
        and all(k.arg not in ("out", None) for k in node.keywords)
    )


def _leaves_out_or_avoids(call: ast.Call, name: str, position: int, value: object) -> bool:
    """Whether ``call`` leaves its argument ``name`` (at ``position``) out, or passes a
    constant other than ``value`` (an int or float constant: ``2`` but not ``k``)."""
    passed = [k.value for k in call.keywords if k.arg == name]
    if len(call.args) > position:
        passed.append(call.args[position])
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return False  # f(*args) or f(**options): what is passed is not known
    if not passed:
        return True
    (argument,) = passed
    return (
        isinstance(argument, ast.Constant)
        and type(argument.value) in (int, float)
        and argument.value != value
    )


def _read_outside(statements: list[ast.stmt], name: str, allowed: set[int]) -> ast.Name | None:
    """The first read of ``name`` in ``statements`` whose node is not in ``allowed``."""
    for statement in statements:
        for node in walk_breadth_first(statement):
            if (
                isinstance(node, ast.Name)
                and node.id == name
                and isinstance(node.ctx, ast.Load)
                and id(node) not in allowed
            ):
                return node
    return None


def _mentions(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _writes_into(node: ast.AST, name: str) -> bool:
    """Whether ``node`` is ``name[...] = v`` or ``name[...] op= v``."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign):
        targets = [node.target]
    else:
        return False
    return any(
        isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name
        for t in targets
    )


def _used_outside_arithmetic(statements: list[ast.stmt], name: str, copies=None) -> bool:
    """Whether ``name`` is read anywhere but as a direct operand of arithmetic or comparison, as
    an index, or as an argument of a call ``copies`` says returns a new array (``np.sum(p)``:
    it keeps no reference to p)."""
    allowed: set[int] = set()
    uses: list[ast.Name] = []
    for statement in statements:
        for node in walk_breadth_first(statement):
            if isinstance(node, ast.BinOp):
                allowed.update(id(operand) for operand in (node.left, node.right))
            elif isinstance(node, ast.UnaryOp):
                allowed.add(id(node.operand))
            elif isinstance(node, ast.Compare):
                allowed.update(id(operand) for operand in (node.left, *node.comparators))
            elif isinstance(node, ast.Subscript):
                allowed.add(id(node.slice))  # used as an index: x[i] keeps no reference to i
            elif isinstance(node, ast.AugAssign | ast.Return):
                allowed.add(id(node.value))
            elif isinstance(node, ast.Call) and copies is not None and copies(node):
                allowed.update(id(argument) for argument in node.args)
            elif _is_copying_method_call(node):
                allowed.add(id(node.func.value))  # p.sum() keeps no reference to p
            elif isinstance(node, ast.Name) and node.id == name:
                uses.append(node)
    return any(id(use) not in allowed for use in uses if isinstance(use.ctx, ast.Load))


def _operator_symbol(operator: ast.operator) -> str:
    return {
        ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
        ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%",
    }.get(type(operator), "<op>")  # fmt: skip
