"""Forward mode: the jvp of a function in normal form, each line followed by its tangent line.

Invariant established: ``ForwardCode.tree`` is a function ``<name>_jvp`` that takes the user's
parameters, then the tangent ``<p>_dot`` of each ``wrt`` parameter ``p`` (keyword-only where the
function has defaults or keyword-only parameters), runs the normal form line by line, and after
each line whose output is active (``activity.py``) assigns the output's tangent: the tangent
rule of the line's primitive inlined by renaming, the terms of its active arguments added (an
inactive argument's term is left out, so no zeros are made for it). It returns
``(result, result_dot)``. Nothing is saved: the tangent is carried alongside its value through
branches and loops. For the first line of the two-layer network::

    z = W1 @ x + b1
    z_dot = W1_dot @ x + W1 @ x_dot + b1_dot

(after ``forward_fold.py`` has folded the single-use temporaries back). The other forms:

- ``y = x`` gives ``y_dot = x_dot``; ``t = (a, b)`` gives ``t_dot = (a_dot, b_dot)`` and
  ``a, b = t`` gives ``a_dot, b_dot = t_dot`` (an inactive element's tangent is
  ``zero_tangent(element)``, so a tuple's tangent has all its elements);
- ``y = a[i]`` gives ``y_dot = a_dot[i]``; ``x[i] = v`` gives ``x_dot[i] = v_dot`` (``0.0``
  where v is inactive) just before it; ``xs.append(v)`` gives ``xs_dot.append(v_dot)``; a
  tangent a rule gives for an array written into, or from one, is made a new array
  (``own_tangent``) where it might share memory with another tangent while the values do not
  (``owned``);
- an active name bound by a line whose inputs are inactive (``h = np.zeros(n)`` before a loop
  makes h vary) gets ``h_dot = zero_tangent(h)``, as one writes by hand;
- a line that reads the name it assigns (``h = np.tanh(W @ h)`` in a loop) keeps the older value
  under a fresh name for its tangent line, which reads both;
- a call of the user's own function with no rule calls that function's generated jvp
  (``y, y_dot = helper_jvp(a, x_dot=a_dot)``), compiled lazily, so recursion works;
- in generated code (an adjoint differentiated again, for ``hvp``): ``v = xs.pop()`` gives
  ``v_dot = xs_dot.pop()`` (the tangents pushed beside the values are popped with them; a pop
  into a name that does not vary pops the tangent all the same, ``xs_dot.pop()``), ``xs.pop()``
  gives ``xs_dot.pop()``, and a runtime helper that adds into an adjoint in place,
  ``add_at(acc, i, g)``, is followed by the same on the tangents, ``add_at(acc_dot, i, g_dot)``.

Where a rule wraps a term in ``broadcast_tangent(term, z)`` (the tangent of an operand NumPy may
have broadcast), the generator wraps the line's sum once instead, and not at all where a term
has the output's shape. Identities: ``B(a, z) + B(b, z) = B(a + b, z)`` (broadcasting is
linear and commutes with addition), and ``a + B(b, z) = a + b`` where ``a`` has z's shape (then
NumPy broadcasts b to it). Side conditions: a term not wrapped has the output's shape (the rule
form's contract, checked by the rule tests); a wrapped term of an operand known to have the
output's shape (from shape inference, or an elementwise operator whose partner is a number) has
that shape, since the rule wraps only elementwise functions of that operand.
"""

from __future__ import annotations

import ast
import functools
import inspect
import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from overbar.errors import (
    InternalError,
    MissingRuleError,
    RuleDefinitionError,
    UnsupportedSyntaxError,
)
from overbar.primitives import Attribute, Method
from overbar.transpiler.activity import Activity
from overbar.transpiler.fence import is_append, is_pop
from overbar.transpiler.lines import (
    _operands_shaped_like_output,
    called_name,
    is_sequence_atom,
    joins_known_sequences,
    passed_functions,
    with_arity_signature,
    with_keywords_signature,
)
from overbar.transpiler.names import (
    clone,
    fix_missing_locations,
    names_in,
    statements_breadth_first,
    walk_breadth_first,
)
from overbar.transpiler.normalize import NormalForm
from overbar.transpiler.parse import ParsedFunction
from overbar.transpiler.primitive import (
    CONSTANT,
    IDENTITY,
    MAP,
    PACK,
    Application,
    application_of,
    is_number,
)
from overbar.transpiler.shapes import Shapes
from overbar.transpiler.sweep_state import SweepState
from overbar.transpiler.syntax import assign, call, load, tuple_of
from overbar.transpiler.tangent_rules import TangentChoice, TangentTemplate
from overbar.transpiler.templates import Substitution


@dataclass(frozen=True)
class ForwardCode:
    """The generated jvp function, before folding and emitting."""

    tree: ast.FunctionDef
    bindings: tuple[tuple[str, Any], ...]
    tangent_parameters: tuple[tuple[str, str], ...]  # (wrt parameter, its tangent parameter)
    subroutines: tuple[Any, ...]
    temporaries: frozenset[str]
    pure: frozenset[int]  # ids of the generated statements that have no effects
    tangent_effects: frozenset[int] = frozenset()  # ids of writes into tangents
    primal_values: frozenset[int] = frozenset()  # ids of the lines computing the values
    numeric_tangents: frozenset[str] = frozenset()  # tangents of values known as arrays


def tangent_name(parameter: str) -> str:
    """The name of the tangent parameter of ``parameter`` in a generated jvp."""
    return f"{parameter}_dot"


def differentiate_forward(
    parsed: ParsedFunction,
    form: NormalForm,
    activity: Activity,
    runtime: Any,
    jvp_of: Callable[..., Any],
    shapes: Shapes | None = None,
    gradient: tuple | None = None,
) -> ForwardCode:
    """Build the jvp of ``form`` with respect to ``activity.wrt``; ``jvp_of(function, wrt,
    shapes, functions, arity)`` gives a callable jvp for a call of the user's own
    ``function`` with arguments of these shapes (name and shape pairs), passed these
    functions, its ``*args`` collecting ``arity`` arguments.

    With ``gradient``, the dims of the one parameter ``x`` of ``wrt`` as the caller passes it
    (one element: ``()`` or every dimension 1), the function is the
    gradient by forward mode, ``<name>_grad``: it takes no tangent, starts from
    ``x_dot = one_like(x)``, and returns ``(result, gradient)``, the gradient being the
    result's tangent shaped like ``x`` (``tangent_as_gradient``, which checks that the result
    is a scalar, where shapes do not say that it is one shaped like ``x``)."""
    return _Tangents(parsed, form, activity, runtime, jvp_of, shapes, gradient).run()


class _Tangents:
    def __init__(self, parsed, form, activity, runtime, jvp_of, shapes, gradient=None):
        self.state = SweepState(parsed, form, activity, runtime, shapes)
        self.rules = TangentChoice(self.state, jvp_of)
        self.jvp_of = jvp_of
        self.gradient = gradient
        suffix = "jvp" if gradient is None else "grad"
        self.function_name = self.state.names.fresh(f"{form.tree.name}_{suffix}")
        self.dots: dict[str, str] = {}
        for name in activity.wrt:
            dot = tangent_name(name)
            if dot in self.state.names.taken:
                raise UnsupportedSyntaxError(
                    f"{form.tree.name} uses the name {dot}, which forward mode gives the tangent "
                    f"of its parameter {name}; rename it",
                    parsed.location(parsed.tree),
                )
            self.state.names.take(dot)
            self.dots[name] = dot
        self.pure: set[int] = set()  # statements with no effects
        self.tangent_effects: set[int] = set()  # statements whose effects are on tangents only
        self.primal_values: set[int] = set()  # lines that compute a value of the function's
        self.subroutines: list[Any] = []

    # names

    def dot(self, name: str) -> str:
        """The name of the tangent of ``name`` (``x_dot``, the same at every call)."""
        if name not in self.dots:
            self.dots[name] = self.state.names.fresh(tangent_name(name))
            if name in self.state.form.temporaries:
                self.state.temporaries.add(self.dots[name])
        return self.dots[name]

    def is_active(self, atom: ast.expr) -> bool:
        return self.state.activity.is_active(atom)

    def zero(self, atom: ast.expr) -> ast.expr:
        """The tangent of an inactive atom read where tangents are: ``0.0`` for a number
        written out, else ``zero_tangent(atom)``."""
        if is_number(atom) or isinstance(atom, ast.Constant):
            return ast.Constant(0.0)
        helper = self.state.bind("zero_tangent", self.state.runtime.zero_tangent)
        return call(helper, clone(atom))

    def tangent_of(self, atom: ast.expr) -> ast.expr:
        """The tangent of an atom: ``x_dot``, a display of tangents, or a zero."""
        if isinstance(atom, ast.Name) and atom.id in self.state.activity.active:
            return load(self.dot(atom.id))
        if isinstance(atom, ast.Tuple | ast.List) and self.is_active(atom):
            elements = [self.tangent_of(element) for element in atom.elts]
            return type(atom)(elts=elements, ctx=ast.Load())
        return self.zero(atom)

    # the function

    def run(self) -> ForwardCode:
        form = self.state.form
        statements, result = form.tree.body[:-1], form.tree.body[-1].value
        prologue = [  # an active parameter not differentiated: it varies later, in a loop
            assign(self.dot(name), self.zero(load(name)))
            for name in form.parameters
            if name in self.state.activity.active and name not in self.state.activity.wrt
        ]
        if self.gradient is not None:  # the seed: the tangent 1 along the one parameter
            (parameter,) = self.state.activity.wrt
            one = self.state.bind("one_like", self.state.runtime.one_like)
            prologue.insert(0, assign(self.dots[parameter], call(one, load(parameter))))
        body = prologue + self.block(statements)
        tangent = self.tangent_of(result)
        if self.gradient is not None:
            tangent = self.as_gradient(result, tangent)
        body.append(ast.Return(value=tuple_of([clone(result), tangent])))
        arguments = clone(form.tree.args)
        wrt = () if self.gradient is not None else self.state.activity.wrt  # no tangent taken
        dots = [ast.arg(arg=self.dots[name]) for name in wrt]
        if arguments.defaults or arguments.kwonlyargs or arguments.vararg or arguments.kwarg:
            arguments.kwonlyargs.extend(dots)
            arguments.kw_defaults.extend([None] * len(dots))
        else:
            arguments.args.extend(dots)
        tree = ast.FunctionDef(
            name=self.function_name,
            args=arguments,
            body=body,
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        ast.copy_location(tree, form.tree)
        return ForwardCode(
            tree=fix_missing_locations(tree),
            bindings=tuple(sorted(self.state.bindings.items())),
            tangent_parameters=tuple((name, self.dots[name]) for name in self.state.activity.wrt),
            subroutines=tuple(self.subroutines),
            temporaries=frozenset(self.state.temporaries),
            pure=frozenset(self.pure),
            tangent_effects=frozenset(self.tangent_effects),
            primal_values=frozenset(self.primal_values),
            numeric_tangents=frozenset(
                dot
                for name, dot in self.dots.items()
                if isinstance(self.state.shapes.get(name), tuple)  # a number's is ()
            ),
        )

    def as_gradient(self, result: ast.expr, tangent: ast.expr) -> ast.expr:
        """The gradient of the scalar ``result`` with respect to the one-element parameter,
        from its ``tangent`` along 1: the tangent itself where shapes say the result is a
        scalar shaped like the parameter as passed (and no line may turn it complex), else
        ``tangent_as_gradient(result, tangent, x)`` (the check that the result is a real
        scalar, the tangent shaped like ``x``)."""
        (parameter,) = self.state.activity.wrt
        dims = self.state.runtime.shapes.dims
        result_dims = dims(self.state.shape_of(result))
        if (
            result_dims is not None
            and result_dims == self.gradient  # one element, as x
            and not self.state.may_turn_complex()
            and not self.state.may_be_truth_value(result)
        ):
            return tangent
        helper = self.state.bind("tangent_as_gradient", self.state.runtime.tangent_as_gradient)
        return call(helper, clone(result), tangent, load(parameter))

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        """The statements with their tangent lines, control flow kept as it is."""
        out: list[ast.stmt] = []
        for statement in statements:
            if isinstance(statement, ast.Assign):
                target = statement.targets[0]
                if isinstance(target, ast.Subscript):
                    self.write(statement, out)
                elif isinstance(target, ast.Tuple):
                    self.unpack(statement, out)
                else:
                    self.line(statement, out)
            elif isinstance(statement, ast.If):
                out.append(
                    ast.copy_location(
                        ast.If(
                            test=clone(statement.test),
                            body=self.block(statement.body) or [ast.Pass()],
                            orelse=self.block(statement.orelse),
                        ),
                        statement,
                    )
                )
            elif isinstance(statement, ast.For):
                if any(n in self.state.activity.active for n in names_in(statement.target)):
                    raise self.state.unsupported(
                        ast.Expr(value=statement.iter), "a loop over differentiated values"
                    )
                loop = ast.For(
                    target=clone(statement.target),
                    iter=clone(statement.iter),
                    body=self.block(statement.body) or [ast.Pass()],
                    orelse=[],
                    type_comment=None,
                )
                out.append(ast.copy_location(loop, statement))
            elif isinstance(statement, ast.While):
                loop = ast.While(
                    test=clone(statement.test),
                    body=self.block(statement.body) or [ast.Pass()],
                    orelse=[],
                )
                out.append(ast.copy_location(loop, statement))
            elif isinstance(statement, ast.Expr) and is_append(statement):
                appended = clone(statement)
                self.pure.add(id(appended))  # its one effect, on the list, folding sees
                out.append(appended)
                receiver = statement.value.func.value.id
                if receiver in self.state.activity.active:
                    element = self.tangent_of(statement.value.args[0])
                    append = ast.Call(
                        func=ast.Attribute(
                            value=load(self.dot(receiver)), attr="append", ctx=ast.Load()
                        ),
                        args=[element],
                        keywords=[],
                    )
                    appended = ast.copy_location(ast.Expr(value=append), statement)
                    self.pure.add(id(appended))
                    out.append(appended)
            elif isinstance(statement, ast.Expr) and is_pop(statement.value):
                out.append(clone(statement))
                receiver = statement.value.func.value.id
                if receiver in self.state.activity.active:
                    out.append(ast.copy_location(ast.Expr(value=self.pop(receiver)), statement))
            elif isinstance(statement, ast.Expr) and self.linear_effect(statement.value):
                out.append(clone(statement))
                self.effect_tangent(statement, out)
            else:
                out.append(clone(statement))
        return out

    def pop(self, receiver: str) -> ast.expr:
        """``xs_dot.pop()``: a list's tangent is a list beside it, popped with it."""
        method = ast.Attribute(value=load(self.dot(receiver)), attr="pop", ctx=ast.Load())
        return ast.Call(func=method, args=[], keywords=[])

    def linear_effect(self, expression: ast.expr) -> Any:
        """The runtime helper ``expression`` calls for its effect on its first argument, where
        that effect is linear in the first and last arguments (``add_at(acc, index, g)``:
        acc[index] += g), else ``None``."""
        if not (isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name)):
            return None
        runtime = self.state.runtime
        helper = self.state.parsed.namespace.lookup(expression.func.id)
        linear = (runtime.add_at, runtime.add_item)
        return helper if any(helper is h for h in linear) else None

    def effect_tangent(self, statement: ast.Expr, out: list[ast.stmt]) -> None:
        """``add_at(acc, index, g)`` is followed by ``add_at(acc_dot, index, g_dot)``.

        Identity: the helper adds g (scattered at index) into acc in place, which is linear in
        acc and g together, so the tangent of acc after it is acc_dot with g_dot added alike.
        Side conditions: index does not vary (an index has no derivative); where g does not
        vary, g_dot is zero and acc_dot is left as it is (no statement). g is a name or a
        display of names and constants (a tuple element's adjoint), whose tangent is the
        display of their tangents."""
        call_node = statement.value
        changed, *positions, added = call_node.args
        if not (self.is_active(changed) and self.is_active(added)):
            return
        displayed = isinstance(added, ast.Tuple | ast.List) and all(
            isinstance(e, ast.Name | ast.Constant) for e in added.elts
        )  # (a_bar, b_bar), a list element's adjoint: its tangent is the display of theirs
        if not (isinstance(changed, ast.Name) and (isinstance(added, ast.Name) or displayed)):
            raise InternalError(  # normalize makes them atoms: a name's tangent is known
                f"forward mode met {ast.unparse(call_node)} with an expression for an adjoint",
                self.state.parsed.location(statement),
            )
        tangent = ast.Call(
            func=clone(call_node.func),
            args=[self.tangent_of(changed), *clone(positions), self.tangent_of(added)],
            keywords=[],
        )
        line = ast.copy_location(ast.Expr(value=tangent), statement)
        self.tangent_effects.add(id(line))
        out.append(line)

    def write(self, statement: ast.Assign, out: list[ast.stmt]) -> None:
        """``x_dot[i] = v_dot`` (``0.0`` where v does not vary), then ``x[i] = v``.

        The tangent's write comes first: a tangent may read values that are views of x
        (``t = x[1:]`` before ``x[1:] = t * c``), so no tangent is computed after a write into x
        that it did not follow in the function. Values fold past the tangent's write (it changes
        tangents only, which no value reads), nothing folds past the value's write."""
        target = statement.targets[0]
        array = target.value.id
        if array in self.state.activity.active:
            value = statement.value
            tangent = self.tangent_of(value) if self.is_active(value) else ast.Constant(0.0)
            written = ast.Subscript(value=load(self.dot(array)), slice=clone(target.slice))
            written.ctx = ast.Store()
            line = ast.copy_location(ast.Assign(targets=[written], value=tangent), statement)
            self.tangent_effects.add(id(line))
            out.append(line)
        out.append(clone(statement))

    def unpack(self, statement: ast.Assign, out: list[ast.stmt]) -> None:
        """``a, b = t``, then ``a_dot, b_dot = t_dot``."""
        out.append(clone(statement))
        target = statement.targets[0]
        if not any(n in self.state.activity.active for n in names_in(target)):
            return

        def dotted(node: ast.expr) -> ast.expr:
            if isinstance(node, ast.Name):
                return ast.Name(id=self.dot(node.id), ctx=ast.Store())
            return type(node)(elts=[dotted(e) for e in node.elts], ctx=ast.Store())

        tangent = ast.Assign(targets=[dotted(target)], value=self.tangent_of(statement.value))
        self.pure.add(id(tangent))
        out.append(ast.copy_location(tangent, statement))

    def line(self, statement: ast.Assign, out: list[ast.stmt]) -> None:
        """``y = f(x, ...)``, then ``y_dot = `` the sum of the rule's active terms."""
        output = statement.targets[0].id
        form, namespace = self.state.form, self.state.parsed.namespace
        application = application_of(statement.value, form, namespace)
        primal = clone(statement)
        self.primal_values.add(id(primal))
        if self.has_no_effects(application.primal):
            self.pure.add(id(primal))
        if output not in self.state.activity.active:
            out.append(primal)
            if is_pop(statement.value) and self.is_active(statement.value.func.value):
                popped = ast.Expr(value=self.pop(statement.value.func.value.id))
                out.append(ast.copy_location(popped, statement))  # the tangents keep pace
            if application.primal is self.state.runtime.take_in_place and self.is_active(
                application.positional[0]
            ):  # it zeroes part of an adjoint in place: of its tangent too
                taken = call(
                    self.state.bind("take_in_place", application.primal),
                    self.tangent_of(application.positional[0]),
                    *clone(list(application.positional[1:])),
                )
                out.append(ast.copy_location(ast.Expr(value=taken), statement))
            return
        inputs_active = any(
            name in self.state.activity.active for name in application.input_names()
        )
        if is_pop(statement.value):  # v = xs.pop(), then v_dot = xs_dot.pop()
            out.append(primal)
            tangent = self.pop(statement.value.func.value.id) if inputs_active else None
            line = assign(self.dot(output), tangent or self.zero(load(output)))
            out.append(ast.copy_location(line, statement))
            return
        if inputs_active and self.rules.is_subroutine(application.primal):
            out.append(self.call_jvp(statement, application))
            owned = self.owned(load(self.dot(output)), output, application)
            if isinstance(owned, ast.Call):  # a helper's tangent may be its argument's
                out.append(ast.copy_location(assign(self.dot(output), owned), statement))
            return
        earlier = None
        if inputs_active and output in application.input_names():
            earlier = self.state.temporary()  # the tangent line may read the value overwritten
            out.append(ast.copy_location(assign(earlier, load(output)), statement))
            saving = len(out) - 1
        out.append(primal)
        if application.primal is CONSTANT:
            tangent = self.zero(statement.value)
        elif application.primal is PACK:  # every element's tangent, zeros included: [] for []
            elements = [self.tangent_of(element) for element in statement.value.elts]
            tangent = type(statement.value)(elts=elements, ctx=ast.Load())
        elif application.primal is MAP:  # {"a": a}: {"a": ȧ}  ({k: v}: {k: v̇})
            keys = [clone(key) for key in statement.value.keys]
            values = [self.tangent_of(value) for value in statement.value.values]
            tangent = ast.Dict(keys=keys, values=values)
        elif not inputs_active or self.rules.has_no_gradient(application.primal):
            tangent = self.zero(load(output))
        elif application.primal is IDENTITY:
            tangent = self.tangent_of(statement.value)
        elif application.primal is operator.getitem:
            tangent = self.owned(self.item(statement, application, output), output, application)
        elif joins_known_sequences(self.state, application, output):
            tangent = self.joined_tangent(application)
        else:
            tangent = self.apply_rule(statement, application, output, earlier, out)
            tangent = self.owned(tangent, output, application)
        line = ast.copy_location(assign(self.dot(output), tangent), statement)
        self.pure.add(id(line))
        out.append(line)
        if earlier is not None and not any(
            earlier in names_in(later) for later in out[saving + 2 :]
        ):
            del out[saving]  # the tangent line reads no older value: nothing to keep

    def joined_tangent(self, application: Application) -> ast.BinOp:
        """``z = a + b`` of two tuples or lists (Python's join):  ż = ȧ + ḃ, a tuple or list
        of zeros standing for an operand that does not vary; ``z = a * n`` or ``n * a``
        (Python's repetition):  ż = ȧ * n, or n * ȧ."""
        first, second = application.positional
        if application.primal is operator.add:
            left, right = self.tangent_of(first), self.tangent_of(second)
            return ast.BinOp(left=left, op=ast.Add(), right=right)
        if is_sequence_atom(self.state, first):
            return ast.BinOp(left=self.tangent_of(first), op=ast.Mult(), right=clone(second))
        return ast.BinOp(left=clone(first), op=ast.Mult(), right=self.tangent_of(second))

    def has_no_effects(self, primal: Any) -> bool:
        """Whether a line applying ``primal`` computes without effects (so a temporary it
        binds may be folded into its reader): an operator, an attribute, a primitive of the
        rule table (not a helper of the user's), a pure NumPy function."""
        if primal is IDENTITY or primal is CONSTANT or primal is PACK or primal is MAP:
            return True
        if primal == Method("pop") or primal is self.state.runtime.take_in_place:
            return False  # they change the list or the adjoint they are given
        if isinstance(primal, Attribute):
            return True
        if self.rules.is_subroutine(primal):  # the user's own function may have effects
            return False
        if getattr(primal, "__module__", None) in ("_operator", "operator"):
            return True
        try:
            known = self.state.runtime.rules.lookup(
                primal
            ) or self.state.runtime.rules.lookup_tangent(primal)
        except TypeError:
            return False
        return bool(known) or self.state.runtime.is_pure(primal)

    def owned(self, tangent: ast.expr, output: str, application: Application) -> ast.expr:
        """``own_tangent(tangent, y)`` (a new writable array shaped like y) where a write into
        an array could reach another tangent through the rule's result: y is written into later,
        or an input is. A rule may give a tangent that shares memory with an input's (``x_dot``
        itself for ``y = x + 2.0``, a view for a reshape) where the values do not share it (y is
        a new array): a write into one tangent would then change the other. Arithmetic
        (an operator at the top) always makes a new array of the output's shape, as
        ``zero_tangent`` does, and so do the tangent rules of the functions that always return a
        new array (``np.copy``: its tangent is ``np.copy(x_dot)``; ``test_tangent_rules`` checks
        this of each); the lines that bind names together in the values too (``w = z``,
        ``t = (z, a)``, appends) bind their tangents together alike and are not changed."""
        if isinstance(tangent, ast.BinOp | ast.UnaryOp) or self.makes_new_arrays(application):
            return tangent
        written = self.written
        if output not in written and not (application.input_names() & written):
            return tangent
        helper = self.state.bind("own_tangent", self.state.runtime.own_tangent)
        return call(helper, tangent, load(output))

    def makes_new_arrays(self, application: Application) -> bool:
        """Whether the primal always returns a new array (``np.copy``, ``np.array``, ...)."""
        try:
            return application.primal in self.state.runtime.array_makers
        except TypeError:
            return False

    @functools.cached_property
    def written(self) -> set[str]:
        """The names the function writes into (``x[i] = v``)."""
        return {
            node.targets[0].value.id
            for node in statements_breadth_first(self.state.form.tree)
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)
        }

    def item(self, statement: ast.Assign, application: Application, output: str) -> ast.expr:
        """``y = a[index]``:  ẏ = ȧ[index], the index as written (its rule in the table says
        the same, ``getitem_tangent``; written here to keep the slice syntax)."""
        self.rules.rules_for(application)  # the rule must exist, as for any primitive
        array = statement.value.value
        if not self.is_active(array):
            raise MissingRuleError(
                f"the index of {ast.unparse(statement.value)} depends on "
                f"{', '.join(self.state.activity.wrt)}; an index has no derivative",
                self.state.parsed.location(statement.value),
            )
        return ast.Subscript(
            value=self.tangent_of(array), slice=clone(statement.value.slice), ctx=ast.Load()
        )

    def call_jvp(self, statement: ast.Assign, application: Application) -> ast.stmt:
        """``y = helper(a, k=b)`` becomes ``y, y_dot = helper_jvp(a, k=b, x_dot=a_dot, ...)``
        for the helper's parameters bound to active atoms."""
        helper = application.primal
        signature = inspect.signature(helper)
        kinds = {p.kind for p in signature.parameters.values()}
        arity = None
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            signature, arity = with_arity_signature(helper, signature, application)
        renamed: dict[str, str] = {}
        constants: set[str] = set()
        if inspect.Parameter.VAR_KEYWORD in kinds:  # **kwargs: a parameter per keyword
            signature, collected, renamed = with_keywords_signature(helper, signature, application)
            constants = {key[0] for key in collected if isinstance(key, tuple)}
            application = replace(
                application,
                keywords=tuple(
                    (renamed.get(k, k), atom)
                    for k, atom in application.keywords
                    if k not in constants
                ),
            )
            arity = (arity, collected)
        try:
            bound = signature.bind(*application.positional, **dict(application.keywords))
        except TypeError as error:
            raise self.state.unsupported(
                statement, f"the call of {application.description} ({error})"
            ) from None
        wrt = []
        for name, atom in bound.arguments.items():
            if isinstance(atom, tuple | dict):
                if any(
                    self.is_active(a) for a in (atom.values() if isinstance(atom, dict) else atom)
                ):
                    raise self.state.unsupported(
                        statement,
                        f"differentiated values passed to {application.description} through "
                        f"*{name} or **{name}",
                    )
                continue
            if self.is_active(atom):
                wrt.append(name)
        jvp = self.jvp_of(
            helper,
            tuple(wrt),
            self.call_shapes(signature, bound),
            passed_functions(self.state, bound),
            arity,
        )
        if jvp not in self.subroutines:
            self.subroutines.append(jvp)
        jvp.prepare()  # its refusals surface now, with the caller's
        callee = self.state.bind(f"{called_name(helper, application)}_jvp", jvp)  # linked later
        node = application.node
        tangents = [
            ast.keyword(arg=tangent_name(name), value=self.tangent_of(bound.arguments[name]))
            for name in wrt
        ]
        keywords = [
            ast.keyword(arg=renamed.get(k.arg, k.arg), value=clone(k.value))
            for k in node.keywords
            if k.arg not in constants
        ]
        called = ast.Call(func=load(callee), args=clone(node.args), keywords=keywords + tangents)
        output = statement.targets[0].id
        targets = ast.Tuple(
            elts=[
                ast.Name(id=output, ctx=ast.Store()),
                ast.Name(id=self.dot(output), ctx=ast.Store()),
            ],
            ctx=ast.Store(),
        )
        return ast.copy_location(ast.Assign(targets=[targets], value=called), statement)

    def refuse_displays_in_arithmetic(
        self, statement, application, bound, active, tangents, body, terms
    ) -> None:
        """A list or tuple display of varying values (``np.linalg.norm([x, x + 2])``) bound to
        a parameter the rule's terms compute with by arithmetic (``x * x_dot``) would be
        Python's list arithmetic there (a product with a number repeats the list), not
        NumPy's: refused, naming the line (the gradient
        of one number then takes reverse mode, whose rules read such an argument as an
        array)."""
        computed = {
            operand.id
            for node in [*body, *(term for _, term in terms)]
            for binary in walk_breadth_first(node)
            if isinstance(binary, ast.BinOp)
            for operand in (binary.left, binary.right)
            if isinstance(operand, ast.Name)
        }
        for parameter in active:
            atom = bound[parameter]
            in_arithmetic = parameter in computed or tangents[parameter] in computed
            if isinstance(atom, ast.Tuple | ast.List) and in_arithmetic:
                raise self.state.unsupported(
                    statement,
                    f"a list or tuple of differentiated values passed to "
                    f"{application.description} in forward mode (build it with np.array)",
                )

    def call_shapes(self, signature: inspect.Signature, bound: inspect.BoundArguments) -> tuple:
        """What is known here of the shapes of a helper's parameters (name and shape pairs:
        ``signature`` is the helper's, as specialised on what its ``*args`` collects here),
        which its jvp is specialised on: the same at every run of this call, since shapes are
        inferred for every run (a recursive call's, for every level)."""
        known = []
        for name, parameter in signature.parameters.items():
            if name in bound.arguments:
                atom = bound.arguments[name]
                shape = None if isinstance(atom, tuple | dict) else self.state.shape_of(atom)
            elif parameter.default is not parameter.empty:
                shape = self.state.runtime.shapes.argument_shape(parameter.default)
            else:
                shape = None
            if shape is not None:
                known.append((name, shape))
        return tuple(known)

    # rules

    def apply_rule(
        self,
        statement: ast.Assign,
        application: Application,
        output: str,
        earlier: str | None,
        out: list[ast.stmt],
    ) -> ast.expr:
        """Inline the tangent rule of ``application``: its statements the active terms need
        go to ``out``; returns the sum of the active terms."""
        template, bound = self.rules.choose_rule(application)
        rule_name = template.rule.function.__qualname__
        tangents = dict(template.tangents)
        active = [p for p, _ in template.tangents if p in bound and self.is_active(bound[p])]
        for parameter, atom in bound.items():
            if parameter not in tangents and self.is_active(atom):
                raise MissingRuleError(
                    f"the tangent rule for {application.description} ({rule_name}) gives no "
                    f"term for its argument {parameter}, which depends on "
                    f"{', '.join(self.state.activity.wrt)} here; register a rule that does "
                    "with @overbar.tangent",
                    self.state.parsed.location(application.node),
                )
        terms = [(p, term) for p, term in template.terms if p in active and not _is_none(term)]
        if not terms:  # the active arguments are read for their shapes only
            return self.zero(load(output))
        body = _needed(template, terms)
        self.refuse_displays_in_arithmetic(
            statement, application, bound, active, tangents, body, terms
        )
        unset = {dot for p, dot in template.tangents if p not in active}
        for node in [*body, *(term for _, term in terms)]:
            if unset & names_in(node):
                raise RuleDefinitionError(
                    f"tangent rule {rule_name}: the term of an argument reads the tangent of "
                    f"another ({', '.join(sorted(unset & names_in(node)))}); each term must "
                    "read its own tangent only"
                )
        wrapper = next(
            (
                name
                for name, value in template.global_values
                if value is self.state.runtime.broadcast_tangent
            ),
            None,
        )
        shaped_like_output = self.shaped_like_output(application, bound, output)
        stripped, full = [], False
        for parameter, term in terms:
            if _is_call_of(term, wrapper):
                full = full or parameter in shaped_like_output
                stripped.append(term.args[0])
            else:
                full = True
                stripped.append(term)
        replacements: dict[str, ast.expr] = {template.output: load(output)}
        for parameter, atom in bound.items():
            value = clone(atom)
            if earlier is not None:
                value = _Renamed(output, earlier).visit(value)
            replacements[parameter] = value
        for parameter in active:
            replacements[tangents[parameter]] = self.tangent_of(bound[parameter])
        for local in sorted(template.local_names):
            replacements[local] = load(self.state.temporary())
        for name, value in template.global_values:
            replacements[name] = load(self.state.bind(name, value))
        substitution = Substitution(replacements, "", [])
        for assignment in body:
            inlined = ast.copy_location(substitution.visit(clone(assignment)), statement)
            self.pure.add(id(inlined))
            out.append(inlined)
        total = None
        adds = template.rule.adds and self.state.bind(
            template.rule.adds.__name__, template.rule.adds
        )
        for term in stripped:
            term = substitution.visit(clone(term))
            if total is None:
                total = term
            elif adds:  # the terms of a tuple: added by their rule's function
                total = call(adds, total, term)
            elif isinstance(term, ast.UnaryOp) and isinstance(term.op, ast.USub):
                total = ast.BinOp(left=total, op=ast.Sub(), right=term.operand)
            else:
                total = ast.BinOp(left=total, op=ast.Add(), right=term)
        if not full:
            helper = self.state.bind("broadcast_tangent", self.state.runtime.broadcast_tangent)
            total = call(helper, total, load(output))
        return total

    def shaped_like_output(
        self, application: Application, bound: dict[str, ast.expr], output: str
    ) -> set[str]:
        """The rule parameters whose atoms are known to have the output's shape."""
        syntactic = {ast.dump(a) for a in _operands_shaped_like_output(application)}
        shapes = self.state.runtime.shapes
        output_shape = self.state.shapes.get(output)
        known = shapes.dims(output_shape) is not None
        return {
            parameter
            for parameter, atom in bound.items()
            if ast.dump(atom) in syntactic
            or (known and shapes.covers(self.state.shape_of(atom), output_shape))
        }


def _needed(template: TangentTemplate, terms: list[tuple[str, ast.expr]]) -> list[ast.Assign]:
    """The rule's assignments the chosen terms read, directly or through one another."""
    needed = set().union(*(names_in(term) for _, term in terms)) if terms else set()
    kept = []
    for assignment in reversed(template.body):
        if assignment.targets[0].id in needed:
            kept.append(assignment)
            needed |= names_in(assignment.value)
    return kept[::-1]


def _is_none(term: ast.expr) -> bool:
    """A rule's term ``None``: its parameter is read for its shape only (no derivative)."""
    return isinstance(term, ast.Constant) and term.value is None


def _is_call_of(node: ast.expr, name: str | None) -> bool:
    return (
        name is not None
        and isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and len(node.args) == 2
    )


class _Renamed(ast.NodeTransformer):
    def __init__(self, old: str, new: str):
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return load(self.new) if node.id == self.old else node
