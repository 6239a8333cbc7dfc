"""The reverse of one line of straight-line code: its rule applied, its contributions added.

``LineAdjoints.reverse_line`` undoes ``y = f(x, ...)`` once ``ȳ`` is defined: it chooses the
rule of ``f`` (``rule_choice.py``), inlines the rule's template by renaming (``y_bar`` for its
output's adjoint, the line's atoms for its parameters, fresh temporaries for its locals), and
adds each contribution into the adjoint of each active input (``SweepState.accumulate``). The
rule's ``unbroadcast(g, x)`` becomes, where shapes tell, the sums it stands for (``summed_to``),
or nothing. A call of the user's own function calls its pullback instead; ``t = (a, b)`` and
``y = t[k]`` move adjoints in and out of a tuple's adjoint. For ``z = np.tanh(x)``::

    # z = np.tanh(x)
    x_bar = z_bar * (1 - z * z)

A line that reads the value it overwrites (``a = a * b``) has the rule read the older value,
popped back under a fresh name, and the adjoint it had before the line.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import operator
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from overbar.errors import MissingRuleError, OverbarError, UnsupportedSyntaxError
from overbar.runtime.registry import active_arguments, rule_signature
from overbar.transpiler.constructors import stored_atoms
from overbar.transpiler.names import (
    Transformer,
    clone,
    names_in,
    statements_breadth_first,
    walk_breadth_first,
)
from overbar.transpiler.normalize import is_global_path
from overbar.transpiler.parse import MISSING, Keywords, keyword_names, positional_names
from overbar.transpiler.primitive import (
    CONSTANT,
    ELEMENTWISE_OPERATORS,
    IDENTITY,
    MAP,
    PACK,
    Application,
    application_of,
    is_number,
    keys_of,
)
from overbar.transpiler.recording import Recording
from overbar.transpiler.rule_choice import RuleChoice
from overbar.transpiler.sweep_state import SweepState, seed_parameter
from overbar.transpiler.syntax import Rename, assign, call, is_read, load, store, tuple_of
from overbar.transpiler.templates import Substitution, Template, expression, template_of


class LineAdjoints:
    """Writes the reverse of single lines into the reverse-sweep block of ``state``.

    ``cancelled`` maps a line to the name that gets no gradient from it (a softmax's
    stabiliser, ``invariance.py``); ``pullback_of`` gives the pullbacks of user functions, and
    ``subroutines`` collects those the lines call. ``logistic`` maps the last line of each
    logistic function or softplus written out to its argument and kind (``logistic.py``).
    With ``residuals`` a helper's call runs its forward function and keeps its residuals
    (``forward_call``) where ``Pullback.keeps_residuals`` says so.
    """

    def __init__(
        self,
        state: SweepState,
        recording: Recording,
        rules: RuleChoice,
        cancelled: dict[int, str],
        pullback_of: Callable[..., Any] | None,
        logistic: dict[int, tuple[str, str]] | None = None,
        residuals: bool = False,
    ):
        self.logistic = logistic or {}
        self.keep_residuals = residuals
        # a call of a helper whose forward keeps its residuals -> (their name, its pullback)
        self.residuals: dict[int, tuple[str, Any]] = {}
        self.state = state
        self.recording = recording
        self.rules = rules
        self.cancelled = cancelled
        self.pullback_of = pullback_of
        self.subroutines: list[Any] = []

    def reverse_line(self, statement: ast.Assign) -> None:
        """Undo ``y = f(x, ...)``, where ȳ is defined:  x̄ += the rule's contribution, ...;
        then ``y`` gets back the value the line overwrote, if it was saved."""
        output = statement.targets[0].id
        slice_name = self.state.bind("slice", builtins.slice)
        application = application_of(
            statement.value, self.state.form, self.state.parsed.namespace, slice_name
        )
        application = self.state.resolved_method(application)  # model.loss(x)
        joins = self.joins_sequences(application)
        if joins and not joins_known_sequences(self.state, application, output):
            raise self.state.unsupported(
                statement,
                f"{application.description}, which joins or repeats a tuple or list whose "
                "length or kind is not known here",
                "write the new tuple or list out element by element ([x, y, x, y] for "
                "[x, y] * 2)",
            )
        if (
            output in self.state.sequences
            and not joins
            and application.primal not in (PACK, MAP, IDENTITY)
            and not self.rules.is_subroutine(application.primal)
            and not self.indexes_a_sequence(application)  # u = t[1:]
            # not a tuple a function with a rule returns
            and not self.state.is_sequence_shape(self.state.shapes.get(output))
        ):
            raise self.state.unsupported(
                statement,
                f"a tuple or list that {application.description} returns",
                "only tuples you build, and those your own functions return, are supported",
            )
        if output in self.state.maybe_zero:
            self.state.reverse.append(self.state.shaped(output))
        output_bar = load(self.state.bar(output))
        reads_itself = output in application.input_names()
        earlier = output
        if reads_itself:  # `a = a * b`: the rule needs the adjoint and value of both a's
            captured = self.state.temporary()
            self.state.reverse.append(assign(captured, output_bar))
            output_bar = load(captured)
            if output in self.recording.overwritten.get(id(statement), []):
                earlier = self.state.temporary()
                self.state.previous[earlier] = output
                self.state.reverse.append(self.recording.pop(earlier, output))
        self.state.defined.discard(output)
        self.state.maybe_zero.discard(output)
        object_attribute = self.state.is_object_attribute(application)
        if not any(name in self.state.activity.active for name in application.input_names()) or (
            self.rules.has_no_gradient(application.primal) and not object_attribute
        ):
            pass  # `h = np.zeros(n)`, `y = np.zeros_like(x)`: nothing to send the adjoint to
        elif object_attribute:  # y = self.W:  self̄ += {W: ȳ}
            receiver = application.positional[0]
            helper = self.state.bind("attribute_bar", self.state.runtime.attribute_bar)
            attribute = ast.Constant(application.primal.name)
            contribution = call(helper, load(receiver.id), attribute, output_bar)
            self.state.accumulate(receiver, contribution)
        elif (stored := stored_atoms(application)) is not None:  # cell = Cell(W, U, b)
            entry = self.state.bind("entry_bar", self.state.runtime.entry_bar)
            for attribute, atom in stored:  # W̄ += cell̄["W"], ...
                if self.state.activity.is_active(atom):
                    # cell̄ is the runtime zero where nothing read the object (a loop of no
                    # trips over its methods), and so is its entry: shaped before it is used
                    contribution = call(entry, output_bar, ast.Constant(attribute))
                    self.state.accumulate(atom, contribution, may_be_zero=True)
        elif application.primal is IDENTITY:
            self.state.accumulate(application.positional[0], output_bar)
        elif application.primal is PACK:  # t = (a, b):  ā += t̄[0],  b̄ += t̄[1]
            unread = self.unread_elements(output)  # their adjoints are zero: no code
            whole = output == self.state.whole_cotangent
            for index, element in enumerate(application.positional):
                if self.state.activity.is_active(element) and index not in unread:
                    part = ast.Subscript(
                        value=output_bar, slice=ast.Constant(index), ctx=ast.Load()
                    )
                    self.state.accumulate(element, part, may_be_zero=not whole)
        elif joins:  # z = a + b, z = a * n of tuples or lists: Python joins or repeats
            self.accumulate_join(application, output, output_bar, earlier)
        elif application.primal is MAP:  # d = {"a": a, "b": b}:  ā += d̄["a"],  b̄ += d̄["b"]
            entry_bar = self.state.bind("entry_bar", self.state.runtime.entry_bar)
            for key, value in zip(keys_of(application), application.positional, strict=True):
                if self.state.activity.is_active(value):
                    part = call(entry_bar, output_bar, ast.Constant(key))
                    self.state.accumulate(value, part, may_be_zero=True)
        elif self.indexes_a_sequence(application):  # y = t[i]:  t̄ += (0, ..., ȳ, ..., 0)
            self.accumulate_item(application, output, output_bar, earlier)
        elif self.rules.is_subroutine(application.primal):
            self.apply_pullback(application, output, output_bar, earlier, id(statement))
        elif application.primal is not CONSTANT:
            # the rule reads t̄ like t: arrays, no runtime zeros
            if output in self.state.sequences:
                like = self.state.bind("elements_like", self.state.runtime.elements_like)
                shaped = self.state.temporary()
                self.state.reverse.append(assign(shaped, call(like, output_bar, load(earlier))))
                output_bar = load(shaped)
            skipped = self.cancelled.get(id(statement))
            if id(statement) in self.logistic:  # h = 1 / t3 ends h = 1 / (1 + exp(-z)), ...
                name, kind = self.logistic[id(statement)]
                rule = getattr(self.state.runtime, kind)
                application = Application(rule.primal, (load(name),), (), load(name))
                self.apply_rule(output, application, output_bar, earlier, None, idiom=rule)
            else:
                self.apply_rule(output, _as_square(application), output_bar, earlier, skipped)
        pushed = self.recording.overwritten.get(id(statement), [])
        if output in pushed:
            if reads_itself:  # the older value was popped into `earlier` above
                self.state.reverse.append(
                    self.recording.restores(output, assign(output, load(earlier)))
                )
            else:
                self.state.reverse.append(self.recording.pop(output, output))
        for name in reversed(pushed):  # a helper's residuals, pushed before its value
            if name != output:
                self.state.reverse.append(self.recording.pop(name, name))

    # rules

    def apply_rule(
        self,
        output: str,
        application: Application,
        output_bar: ast.expr,
        earlier: str,
        skipped: str | None = None,
        idiom: Any = None,
    ) -> None:
        """Inline the rule of ``application`` and add its contributions to the adjoints of
        the active arguments (except ``skipped``, whose contribution cancels out); with
        ``idiom``, that rule of the runtime's (the logistic function, softplus)."""
        if idiom is not None:
            template = template_of(idiom)
            bound = dict(zip(template.positional, application.positional, strict=True))
        else:
            template, bound = self.rules.choose_rule(application)
        values = bound
        if earlier != output:  # the rule reads the overwritten value under its saved name
            values = {
                key: Rename(output, earlier).visit(clone(atom)) for key, atom in bound.items()
            }
        same_shape = _operands_shaped_like_output(application)
        if earlier != output:
            same_shape = [Rename(output, earlier).visit(clone(a)) for a in same_shape]
        statements, entries = self.inline(
            template, values, output, output_bar, [ast.dump(a) for a in same_shape]
        )
        self.state.reverse.extend(statements)
        for parameter, entry in zip(template.positional, entries, strict=True):
            argument = bound[parameter]
            if not self.state.activity.is_active(argument):
                continue
            if isinstance(argument, ast.Name) and argument.id == skipped:
                continue
            if entry is None and self._value_unread(application, template, parameter):
                continue  # the value is read for its shape only: no gradient flows into it
            if entry is None:
                raise MissingRuleError(
                    f"the adjoint rule for {application.description} "
                    f"({template.rule.function.__qualname__}) gives no gradient for its "
                    f"argument {parameter}, which depends on "
                    f"{', '.join(self.state.activity.wrt)} here; register a rule that does with "
                    "@overbar.adjoint",
                    self.state.parsed.location(application.node),
                )
            self.state.accumulate(argument, entry)
        for parameter in _keyword_only(template):  # a rule returns no gradient for these
            argument = bound.get(parameter)
            if argument is not None and self.state.activity.is_active(argument):
                raise MissingRuleError(
                    f"the adjoint rule for {application.description} "
                    f"({template.rule.function.__qualname__}) takes {parameter} as a keyword-only "
                    f"parameter, so it gives it no gradient, but it depends on "
                    f"{', '.join(self.state.activity.wrt)} here; make {parameter} a positional "
                    "parameter of the rule and return its adjoint",
                    self.state.parsed.location(application.node),
                )

    def _value_unread(self, application: Any, template: Any, parameter: str) -> bool:
        """Whether the primal reads the argument ``parameter`` only for its shape and type
        (``runtime.value_unread``): a rule rightly gives it no gradient.

        Identity: the derivative of a function with respect to an argument it reads only the
        shape (or rank, or type) of is zero, since a shape does not change under a small change
        of the values. Side condition: the position is listed for that primal."""
        try:
            positions = self.state.runtime.value_unread.get(application.primal, ())
        except TypeError:  # an unhashable primal (a Method is hashable; some callables not)
            return False
        return template.positional.index(parameter) in positions

    def inline(
        self,
        template: Template,
        bound: dict[str, ast.expr],
        output: str,
        output_bar: ast.expr,
        same_shape: list[str],
    ) -> tuple[list[ast.stmt], list[ast.expr | None]]:
        """The template's body and returned contributions, renamed into this line: its
        output, the output's adjoint, its arguments, fresh temporaries for its locals, bound
        names for the globals it reads. A call ``unbroadcast(g, x)`` is dropped where ``x`` is
        among ``same_shape`` (dumps of operands shaped like the output), and replaced by the
        sums the known shapes call for where they tell (``summed_to``)."""
        replacements: dict[str, ast.expr] = {
            template.output: load(output),
            template.output_bar: output_bar,
            **bound,
        }
        for local in sorted(template.local_names):
            replacements[local] = load(self.state.temporary())
        for name, value in template.global_values:
            replacements[name] = load(self.state.bind(name, value))
        substitute = Substitution(
            replacements,
            self.state.bind("unbroadcast", self.state.runtime.unbroadcast),
            same_shape,
            lambda g, operand: self.summed_to(g, self.state.shape_of(load(output)), operand),
        )
        flags = ActivityFlags(template, bound, self.state.activity.is_active)
        statements = [substitute.visit(flags.visit(clone(s))) for s in template.body]
        entries = [
            None if entry is None else substitute.visit(flags.visit(clone(entry)))
            for entry in template.returns
        ]
        return statements, entries

    def summed_to(self, g: ast.expr, result: Any, operand: ast.expr) -> ast.expr | None:
        """``unbroadcast(g, operand)`` for a ``g`` shaped like ``result``, with the axes it sums
        known now: ``g``, ``g.sum(axis=0)``, ...; None where they are not known."""
        axes = self.state.runtime.shapes.unbroadcast_axes(result, self.state.shape_of(operand))
        if axes is None:
            return None
        leading, kept = axes
        if (leading or kept) and isinstance(g, ast.UnaryOp) and isinstance(g.op, ast.USub):
            summed = self.summed_to(g.operand, result, operand)  # negate the smaller array
            return ast.UnaryOp(op=ast.USub(), operand=summed)
        if kept:
            g = expression(self.state.runtime.sum_keeping, self.state.bind, g=g, axis=_axis(kept))
        if leading and self.state.rank_of(operand) == 0:
            return expression(self.state.runtime.sum_all, self.state.bind, g=g)
        if leading:
            g = expression(
                self.state.runtime.sum_leading, self.state.bind, g=g, axis=_axis(leading)
            )
        return g

    # tuples

    def joins_sequences(self, application: Application) -> bool:
        """``s + t`` or ``s * n`` of a differentiated tuple or list ``s``: Python joins or
        repeats the sequence there (no rule says where each element's adjoint goes)."""
        if application.primal not in (operator.add, operator.mul):
            return False
        if not any(name in self.state.activity.active for name in application.input_names()):
            return False
        sequences = [self.is_sequence(atom) for atom in application.positional]
        if application.primal is operator.add:  # a sequence and an array add elementwise
            return all(sequences)
        active = self.state.activity.active
        return any(
            sequence and not names_in(atom).isdisjoint(active)
            for atom, sequence in zip(application.positional, sequences, strict=True)
        ) and not all(
            self.state.runtime.shapes.dims(self.state.shape_of(atom))
            for atom, sequence in zip(application.positional, sequences, strict=True)
            if not sequence
        )  # a sequence times an array multiplies elementwise, times an integer repeats

    def accumulate_join(
        self, application: Application, output: str, output_bar: ast.expr, earlier: str
    ) -> None:
        """``z = a + b`` of two tuples or lists (Python's join):  ā += z̄[:len(a)],
        b̄ += z̄[len(a):], written out element by element (``(z̄[0], z̄[1])``) where both
        lengths are known now, else by ``joined_bar``. ``z = a * n`` or ``n * a`` (Python's
        repetition):  ā += the pieces of z̄ of a's length added (``repeated_bar``). Where the
        line overwrites an operand (``hs = hs + [h]``), its older value gives the length and
        its name gets the adjoint (as ``accumulate_item`` does)."""
        rename = Rename(output, earlier) if earlier != output else None

        def value(atom: ast.expr) -> ast.expr:
            return rename.visit(clone(atom)) if rename else clone(atom)

        first, second = application.positional
        if application.primal is operator.mul:
            sequence, count = (
                (first, second)
                if is_sequence_atom(self.state, first)
                else (
                    second,
                    first,
                )
            )
            helper = self.state.bind("repeated_bar", self.state.runtime.repeated_bar)
            contribution = call(helper, output_bar, value(sequence), value(count))
            self.state.accumulate(sequence, contribution, may_be_zero=True)
            return
        lengths = [self.state.sequence_length(atom) for atom in (first, second)]
        if None not in lengths:
            head, tail = lengths
            parts: list[ast.expr] = [
                tuple_of([_element(output_bar, k) for k in range(head)]),
                tuple_of([_element(output_bar, k) for k in range(head, head + tail)]),
            ]
        else:
            helper = self.state.bind("joined_bar", self.state.runtime.joined_bar)
            names = [self.state.temporary(), self.state.temporary()]
            target = ast.Tuple(elts=[store(n) for n in names], ctx=ast.Store())
            joined = call(helper, output_bar, value(first), value(second))
            self.state.reverse.append(ast.Assign(targets=[target], value=joined))
            parts = [load(n) for n in names]
        for atom, part in zip((first, second), parts, strict=True):
            if self.state.activity.is_active(atom):
                self.state.accumulate(atom, part, may_be_zero=True)

    def is_sequence(self, atom: ast.expr) -> bool:
        return isinstance(atom, ast.Tuple | ast.List) or (
            isinstance(atom, ast.Name) and atom.id in self.state.sequences
        )

    def indexes_a_sequence(self, application: Application) -> bool:
        """``t[index]`` of a tuple or list ``t``: its adjoint is a tuple, not an array."""
        if application.primal is not operator.getitem:
            return False
        container, index = application.positional[:2]
        return (
            isinstance(container, ast.Tuple | ast.List)
            or (isinstance(container, ast.Name) and container.id in self.state.sequences)
            or _is_key(index)
        )

    def accumulate_item(
        self, application: Application, output: str, output_bar: ast.expr, earlier: str
    ) -> None:
        """``y = t[index]``:  t̄ += a tuple holding ȳ at ``index`` and zeros elsewhere. Where
        t's length and the index are known now, the tuple is written out with the literal 0.0
        in the other places (the elements of a display that it stands for get nothing);
        otherwise ``item_bar`` builds it with the runtime zero."""
        container, index = application.positional
        # the adjoint goes to the container's name: where the line overwrites it
        # (``t = t[1:]``), that adjoint is the overwritten value's from here back (as a
        # rule's argument's is, ``apply_rule``)
        receiver = container
        if earlier != output:  # t = t[0]: the tuple indexed is the overwritten value
            container = Rename(output, earlier).visit(clone(container))
            index = Rename(output, earlier).visit(clone(index))
        shape = self.state.shape_of(container)
        if (self.state.is_sequence_shape(shape) and shape.mapping) or _is_key(index):
            # y = d[k]:  d̄ += {k: ȳ} (a dict's adjoint holds the keys a gradient reached)
            display = ast.Dict(keys=[clone(index)], values=[output_bar])
            self.state.accumulate(receiver, display)
            return
        length = self.state.sequence_length(container)
        position = index.value if isinstance(index, ast.Constant) else None
        if length is not None and type(position) is int and -length <= position < length:
            parts: list[ast.expr] = [ast.Constant(0.0) for _ in range(length)]
            parts[position] = output_bar
            self.state.accumulate(receiver, tuple_of(parts))
            return
        item_bar = self.state.bind("item_bar", self.state.runtime.item_bar)
        contribution = call(item_bar, output_bar, container, index)
        self.state.accumulate(receiver, contribution, may_be_zero=True)

    def unread_elements(self, name: str) -> set[int]:
        """The positions of the tuple ``name`` that no line reads, when every read of it is
        ``y = name[k]`` for a literal k: the adjoint there is always zero (t̄ is added to only
        where t is read, and those reads give the literal 0.0 at every other position)."""
        length = self.state.sequence_length(load(name))
        if length is None:
            return set()
        allowed, read = set(), set()
        for node in statements_breadth_first(self.state.form.tree):
            value = node.value if isinstance(node, ast.Assign) else None
            if (
                isinstance(value, ast.Subscript)
                and isinstance(value.value, ast.Name)
                and value.value.id == name
                and isinstance(value.slice, ast.Constant)
                and type(value.slice.value) is int
                and -length <= value.slice.value < length
            ):
                allowed.add(id(value.value))
                read.add(value.slice.value % length)
        for node in walk_breadth_first(self.state.form.tree):
            if is_read(node) and node.id == name and id(node) not in allowed:
                return set()  # passed on whole, copied, unpacked, returned, ...
        return set(range(length)) - read

    # the user's own functions

    def pullback_for(
        self, application: Application
    ) -> tuple[
        Any, Callable, Application, inspect.Signature, inspect.BoundArguments, tuple[str, ...]
    ]:
        """The pullback of the helper ``application`` calls (for the parameters it binds to
        active values, specialised on what is known here), the function it differentiates
        (for a gradient taken in the function, ``grad(fun)(x)``, the generated gradient),
        the application as that function sees it (``**kwargs`` keywords renamed), its
        signature, the call's arguments bound to it, and those parameters."""
        function = application.primal
        signature = inspect.signature(function)
        specialise = getattr(function, "__overbar_function_for__", None)
        if specialise is not None:  # grad(fun)(x): the generated gradient for these shapes
            try:
                bound = signature.bind(*application.positional, **dict(application.keywords))
            except TypeError as error:
                raise self.unsupported_call(application, f"this call ({error})") from None
            try:
                function = specialise(self.call_shapes(signature, bound))
            except OverbarError as error:
                raise self.unsupported_call(
                    application, f"the gradient taken in the function ({error.message})"
                ) from None
            signature = inspect.signature(function)
        kinds = {p.kind for p in signature.parameters.values()}
        arity = None
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            signature, arity = with_arity_signature(function, signature, application)
        if inspect.Parameter.VAR_KEYWORD in kinds:  # **kwargs: a parameter per keyword
            signature, collected, renamed = with_keywords_signature(
                function, signature, application
            )
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
            raise self.unsupported_call(application, f"this call ({error})") from None
        wrt = tuple(
            name for name, atom in bound.arguments.items() if self.state.activity.is_active(atom)
        )
        pullback = self.pullback_of(
            function,
            wrt,
            shapes=self.call_shapes(signature, bound),
            functions=passed_functions(self.state, bound),
            arity=arity,
        )
        return pullback, function, application, signature, bound, wrt

    def forward_call(self, statement: ast.stmt) -> tuple[ast.stmt, str] | None:
        """For ``y = helper(x, ...)`` whose value the reverse sweep sends an adjoint through:
        ``y, helper_residuals = helper_forward(x, ...)``, the line the forward sweep runs
        instead, and the name of the residuals; None for any other line, and where the
        helper's pullback should recompute (``Pullback.keeps_residuals``), or the helper is
        a method (``self.helper(z)``, checked to be the method at each call)."""
        if not (
            self.keep_residuals
            and isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
            and statement.targets[0].id in self.state.activity.active
        ):
            return None
        called = statement.value.func
        if isinstance(called, ast.Attribute) and not is_global_path(
            called, self.state.form.local_names
        ):
            return None
        application = application_of(statement.value, self.state.form, self.state.parsed.namespace)
        if not self.rules.is_subroutine(application.primal) or not any(
            name in self.state.activity.active for name in application.input_names()
        ):
            return None
        if getattr(application.primal, "__overbar_function_for__", None) is not None:
            return None  # a gradient taken in the function: its pullback recomputes it
        pullback = self.pullback_for(application)[0]
        if isinstance(pullback.arity, tuple):
            return None  # **kwargs: the forward function's parameters are renamed keywords
        if not pullback.keeps_residuals():
            return None
        helper = called_name(application.primal, application)
        forward = self.state.bind(f"{helper}_forward", pullback.forward)
        self.state.bind(f"{helper}_pullback", pullback.reverse)  # numbered as its forward
        residuals = self.state.names.fresh(f"{helper}_residuals")
        self.residuals[id(statement)] = (residuals, pullback)
        self.subroutines.append(pullback.reverse)  # shown with the source: its forward runs
        output = statement.targets[0].id
        line = ast.Assign(
            targets=[ast.Tuple(elts=[store(output), store(residuals)], ctx=ast.Store())],
            value=ast.Call(
                func=load(forward),
                args=clone(statement.value.args),
                keywords=clone(statement.value.keywords),
            ),
        )
        return ast.copy_location(line, statement), residuals

    def apply_pullback(
        self,
        application: Application,
        output: str,
        output_bar: ast.expr,
        earlier: str,
        line: int | None = None,
    ) -> None:
        """``x̄, ... += helper_pullback(x, ..., result_bar=ȳ)``: the helper's own reverse sweep
        (which runs its forward sweep again); where the forward sweep kept the helper's
        residuals (``forward_call``), ``x̄, ... += helper_pullback(*helper_residuals,
        result_bar=ȳ)``, which reads them."""
        called_function = application.primal
        pullback, function, application, signature, bound, wrt = self.pullback_for(application)
        if line in self.residuals:
            residuals, kept = self.residuals[line]
            helper = called_name(called_function, application)
            name = self.state.bind(f"{helper}_pullback", kept.reverse)
            starred = ast.Starred(value=load(residuals), ctx=ast.Load())
            keyword = ast.keyword(arg=seed_parameter(list(signature.parameters)), value=output_bar)
            self.add_pullback_parts(
                ast.Call(func=load(name), args=[starred], keywords=[keyword]), bound, wrt
            )
            return
        seed = seed_parameter(list(signature.parameters))
        if function is called_function:
            pullback.prepare()
            self.subroutines.append(pullback)
            name = self.state.bind(f"{called_name(function, application)}_pullback", pullback)
        else:
            try:
                pullback.prepare()
            except OverbarError as error:  # a line of the generated gradient
                where = error.location.filename if error.location else ""
                if not where.startswith("<overbar "):
                    raise
                product = self.hessian_product(called_function, application, error, wrt, seed)
                name = self.state.bind(product.__name__, product)
            else:
                self.subroutines.append(pullback)
                name = self.state.bind(f"{called_name(function, application)}_pullback", pullback)
        rename = Rename(output, earlier) if earlier != output else None

        def value(atom: ast.expr) -> ast.expr:
            atom = clone(atom)
            return rename.visit(atom) if rename else atom

        keywords = [ast.keyword(arg=k, value=value(a)) for k, a in application.keywords]
        keywords.append(ast.keyword(arg=seed, value=output_bar))
        arguments = [value(a) for a in application.positional]
        called = getattr(application.node, "func", None)
        if isinstance(called, ast.Attribute) and not is_global_path(
            called, self.state.form.local_names
        ):  # self.helper(z): checked to be the method whose pullback this is
            check = self.state.bind("same_method", self.state.runtime.same_method)
            spelled = (
                called_name(function, application) if called.attr == "__call__" else called.attr
            )
            method = self.state.bind(f"{spelled}_method", function)
            arguments[0] = call(check, arguments[0], ast.Constant(called.attr), load(method))
        elif application.positional[:1] == (called,):  # G(h): G.__call__(h), checked so
            check = self.state.bind("same_method", self.state.runtime.same_method)
            method = self.state.bind(f"{called_name(function, application)}_method", function)
            arguments[0] = call(check, arguments[0], ast.Constant("__call__"), load(method))
        pullback_call = ast.Call(func=load(name), args=arguments, keywords=keywords)
        self.add_pullback_parts(pullback_call, bound, wrt)

    def hessian_product(
        self,
        gradient: Any,
        application: Application,
        refusal: OverbarError,
        wrt: tuple[str, ...],
        seed: str,
    ) -> Any:
        """The pullback of the gradient taken in the function that ``application`` calls, by
        forward over reverse (``x̄ += H(x) ḡ``: ``InnerHessianProduct``), where reverse over
        reverse gave ``refusal`` for a line of the generated gradient; refused with both
        reasons where forward mode refuses it too."""
        make = getattr(gradient, "__overbar_hessian_product__", None)
        loop = " (a loop's reverse sweep pops a stack)" if "pop()" in refusal.message else ""
        reason = (
            f"the gradient taken in the function, whose generated adjoint cannot be "
            f"differentiated again{loop}: {refusal.message}"
        )
        if make is None:
            raise self.unsupported_call(application, reason) from None
        signature = inspect.signature(gradient)
        try:
            bound = signature.bind(*application.positional, **dict(application.keywords))
            return make(wrt, seed, self.call_shapes(signature, bound))
        except OverbarError as error:
            raise self.unsupported_call(
                application,
                f"{reason}; nor by forward over reverse (a Hessian-vector product): "
                f"{error.message}",
            ) from None

    def add_pullback_parts(
        self, pullback_call: ast.Call, bound: inspect.BoundArguments, wrt: tuple[str, ...]
    ) -> None:
        """``(tmp1, ...) = pullback_call``, each part added to the adjoint of the argument
        bound to its parameter in ``wrt``."""
        parts = [self.state.temporary() for _ in wrt]
        target = ast.Tuple(elts=[store(p) for p in parts], ctx=ast.Store())
        self.state.reverse.append(ast.Assign(targets=[target], value=pullback_call))
        for parameter, part in zip(wrt, parts, strict=True):
            argument = bound.arguments[parameter]  # a tuple's adjoint may hold runtime zeros
            self.state.accumulate(argument, load(part), isinstance(argument, ast.Tuple | ast.List))

    def call_shapes(
        self, signature: inspect.Signature, bound: inspect.BoundArguments
    ) -> tuple[tuple[str, Any], ...]:
        """What is known here of the shapes of a helper's parameters, for its pullback (the
        same at every run of this call: shapes are inferred for all of them)."""
        known = []
        for name, parameter in signature.parameters.items():
            if name in bound.arguments:
                shape = self.state.shape_of(bound.arguments[name])
            elif parameter.default is not parameter.empty:
                shape = self.state.runtime.shapes.argument_shape(parameter.default)
            else:
                shape = None
            if shape is not None:
                known.append((name, shape))
        return tuple(known)

    def unsupported_call(self, application: Application, what: str) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(
            f"overbar cannot differentiate {what} of {application.description} in "
            f"{self.state.form.tree.name}",
            self.state.parsed.location(application.node),
        )


def is_sequence_atom(state: SweepState, atom: ast.expr) -> bool:
    """Whether ``atom`` is a tuple or list at every run: a display, or a name whose shape (at
    every binding) is a tuple's or list's."""
    if isinstance(atom, ast.Tuple | ast.List):
        return True
    shape = state.shape_of(atom) if isinstance(atom, ast.Name) else None
    return state.is_sequence_shape(shape) and not shape.mapping


def joins_known_sequences(state: SweepState, application: Application, output: str) -> bool:
    """Whether ``output = a + b`` joins two tuples or lists, or ``a * n`` (``n * a``) repeats
    one, as Python does at every run: ``a`` and ``b`` are tuples or lists there
    (``is_sequence_atom``), ``n`` is known to be an integer, and the result is known to be a
    tuple or list (``shapes._concatenated``, ``shapes._repeated``), whose adjoint is a tuple.
    Not where NumPy computes elementwise (a tuple of numbers times an array). A differentiated
    ``a`` repeated by an ``n`` of a kind not known now (``SweepState._with_repetitions``) is
    taken for a repetition too: ``repeated_bar`` refuses, when it runs, an ``n`` that is not an
    integer (and the tangent ``ȧ * n`` is right either way)."""
    if application.primal not in (operator.add, operator.mul) or application.keywords:
        return False
    if len(application.positional) != 2 or output not in state.sequences:
        return False
    known = state.is_sequence_shape(state.shapes.get(output))
    first, second = application.positional
    if application.primal is operator.add:
        return known and is_sequence_atom(state, first) and is_sequence_atom(state, second)
    for sequence, count in ((first, second), (second, first)):
        if not is_sequence_atom(state, sequence):
            continue
        shape = state.shape_of(count)
        if known and state.runtime.shapes.is_integer(shape):
            return True
        if (  # a count of a kind not known now: repeated_bar checks it is an integer
            shape is None
            and state.activity.is_active(sequence)
            and not state.activity.is_active(count)
        ):
            return True
    return False


def _element(sequence_bar: ast.expr, position: int) -> ast.Subscript:
    return ast.Subscript(value=clone(sequence_bar), slice=ast.Constant(position), ctx=ast.Load())


def passed_functions(
    state: SweepState, bound: inspect.BoundArguments
) -> tuple[tuple[str, Any], ...]:
    """The helper's parameters this call binds to a function known now: one named by a
    global path (``np.tanh``, ``sigmoid``), or a parameter of this function that its own
    caller bound to one, or a default the call leaves (``activation=np.tanh``); and those it
    binds to ``None`` (a literal ``None``, a parameter its own caller bound to None, or a
    default ``None`` left: ``def dense(x, W, b=None)`` called as ``dense(x, W)``). The helper's
    pullback (or jvp) is specialised on them (``parse.with_functions``)."""
    namespace = state.parsed.namespace
    passed = []
    for name, atom in bound.arguments.items():
        value = MISSING
        if _is_none(atom, namespace.nones):
            value = None
        elif isinstance(atom, ast.Name) and atom.id in namespace.functions:
            value = namespace.functions[atom.id]
        elif is_global_path(atom, state.form.local_names) or (
            isinstance(atom, ast.Name) and atom.id not in state.form.local_names
        ):
            value = namespace.resolve(atom)
            if value is None:  # a global may be rebound: not specialised on
                value = MISSING
        if value is None or (
            value is not MISSING and callable(value) and not isinstance(value, type)
        ):
            passed.append((name, value))
    for parameter in bound.signature.parameters.values():  # a default this call leaves
        default = parameter.default
        if (
            parameter.name not in bound.arguments
            and default is not parameter.empty
            and (default is None or (callable(default) and not isinstance(default, type)))
        ):
            passed.append((parameter.name, default))
    return tuple(passed)


def _is_none(atom: ast.expr, nones: frozenset[str]) -> bool:
    """Whether ``atom`` is the literal None, or a parameter its caller binds to None."""
    if isinstance(atom, ast.Constant):
        return atom.value is None
    return isinstance(atom, ast.Name) and atom.id in nones


def with_arity_signature(
    function: Any, signature: inspect.Signature, application: Application
) -> tuple[inspect.Signature, int]:
    """The signature of ``function`` (which has ``*args``) specialised for this call, as
    ``parse.with_arity`` writes it: ``*args`` becomes one positional parameter per argument it
    collects here (their number is the second result)."""
    parameters = list(signature.parameters.values())
    named = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    arity = max(0, len(application.positional) - len(named))
    names = positional_names(function, arity)
    made = []
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            made.extend(inspect.Parameter(name, kind) for name in names)
        elif arity and parameter.kind in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
        ):
            made.append(parameter.replace(default=inspect.Parameter.empty))
        else:
            made.append(parameter)
    return signature.replace(parameters=made), arity


def with_keywords_signature(
    function: Any, signature: inspect.Signature, application: Application
) -> tuple[inspect.Signature, Keywords, dict[str, str]]:
    """The signature of ``function`` (which has ``**kwargs``) specialised for this call, as
    ``parse.with_arity`` writes it: ``**kwargs`` becomes a keyword-only parameter per keyword
    it collects here, but for a keyword passed a literal bool, None or string, which is a
    constant of the specialisation (``allow_singular=False``: a rule's ``where`` sees it);
    with the keywords collected (``parse.Keywords``) and the parameter each is passed as."""
    parameters = list(signature.parameters.values())
    named = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    collected = tuple(
        (k, atom.value) if is_specialising_constant(atom) else k
        for k, atom in application.keywords
        if k not in named
    )
    passed = tuple(key for key in collected if isinstance(key, str))
    names = keyword_names(function, passed)
    made = [p for p in parameters if p.kind is not p.VAR_KEYWORD]
    made += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in names]
    return signature.replace(parameters=made), collected, dict(zip(passed, names, strict=True))


def is_specialising_constant(atom: Any) -> bool:
    """A literal bool, None or string: what a keyword ``**kwargs`` collects may be specialised
    on (a flag or an option's name; a number is a value the adjoint computes with)."""
    return isinstance(atom, ast.Constant) and (
        atom.value is None or type(atom.value) in (bool, str)
    )


def called_name(function: Any, application: Application) -> str:
    """What to call a helper's pullback after: its name, or for a lambda (whose name,
    ``<lambda>``, is no identifier) the name the call spells (``sigmoid`` for a module-level
    ``sigmoid = lambda z: ...``); for a class's ``__call__``, the class's name (``RnnCell_call``
    for ``cell(h, x)``)."""
    if function.__name__ == "__call__":
        owner = function.__qualname__.rsplit(".", 1)[0].rsplit(".", 1)[-1]
        return f"{owner}_call" if owner.isidentifier() else "call"
    if function.__name__.isidentifier():
        return function.__name__
    called = getattr(application.node, "func", None)
    if isinstance(called, ast.Attribute):
        return called.attr
    return called.id if isinstance(called, ast.Name) else "lambda"


def _as_square(application: Application) -> Application:
    """``x * x`` is differentiated as ``x ** 2``: one contribution, 2 x z̄, instead of two."""
    left, right = (application.positional + (None, None))[:2]
    if (
        application.primal is operator.mul
        and isinstance(left, ast.Name)
        and isinstance(right, ast.Name)
        and left.id == right.id
    ):
        return replace(application, primal=operator.pow, positional=(left, ast.Constant(2)))
    return application


def _axis(axes: tuple[int, ...]) -> ast.expr:
    if len(axes) == 1:
        return ast.Constant(axes[0])
    return ast.Tuple(elts=[ast.Constant(a) for a in axes], ctx=ast.Load())


def _keyword_only(template: Template) -> list[str]:
    """The rule's keyword-only parameters other than its output's adjoint."""
    parameters = rule_signature(template.rule.function).parameters.values()
    return [
        p.name
        for p in parameters
        if p.kind is p.KEYWORD_ONLY and p.name not in (template.output_bar, template.output)
    ]


def _operands_shaped_like_output(application: Application) -> list[ast.expr]:
    """Operands known to have the output's shape: the array operand of ``x * 2.0`` and the like."""
    if application.primal not in ELEMENTWISE_OPERATORS:
        return []
    operands = application.positional
    shaped = []
    for index, operand in enumerate(operands):
        others = operands[:index] + operands[index + 1 :]
        if all(is_number(other) for other in others):
            shaped.append(operand)
    return shaped


class ActivityFlags(Transformer):
    """A rule's ``active_arguments(p)`` (``registry.active_arguments``) written as the flags
    of this line: for ``p`` bound to a tuple of atoms, ``(True, False)``, whether each atom
    is active. Where ``p`` is bound to anything else the call stays (every adjoint is made)."""

    def __init__(self, template: Template, bound: dict[str, ast.expr], is_active: Callable):
        self.marker = {name for name, value in template.global_values if value is active_arguments}
        self.bound, self.is_active = bound, is_active

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if not (
            isinstance(node.func, ast.Name)
            and node.func.id in self.marker
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Name)
        ):
            return node
        atoms = self.bound.get(node.args[0].id)
        if not isinstance(atoms, ast.Tuple | ast.List) or any(
            isinstance(atom, ast.Starred) for atom in atoms.elts
        ):
            return node
        flags = [ast.Constant(bool(self.is_active(atom))) for atom in atoms.elts]
        return ast.Tuple(elts=flags, ctx=ast.Load())


def _is_key(index: ast.expr) -> bool:
    """Whether ``index`` is a literal string: ``d["W"]`` reads a dict (an array is never
    indexed by a string, but for the fields of a structured array, which have no adjoint),
    whatever is known of ``d``'s shape (``params[name]["W"]`` where the layers differ)."""
    return isinstance(index, ast.Constant) and isinstance(index.value, str)
