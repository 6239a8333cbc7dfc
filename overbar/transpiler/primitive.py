"""What primitive a normal-form line applies, and to which atoms.

This is the one place that maps Python syntax onto the keys of the runtime's rule table:
``a + b`` is ``operator.add`` applied to ``(a, b)``, ``np.exp(x)`` is the object ``np.exp``
resolves to, ``x.sum(axis=0)`` is ``Method("sum")`` applied to ``x`` with ``axis=0``, and
``x[1:3]`` is ``operator.getitem`` applied to ``x`` and ``slice(1, 3)``.
"""

from __future__ import annotations

import ast
import operator
import weakref
from dataclasses import dataclass
from typing import Any

from overbar.primitives import Attribute, Index, Method, describe, is_index_maker
from overbar.transpiler.names import names_in
from overbar.transpiler.normalize import NormalForm, is_global_path
from overbar.transpiler.parse import MISSING, Namespace


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


IDENTITY = _Marker("IDENTITY")  # y = x
CONSTANT = _Marker("CONSTANT")  # y = 1.0, y = np.pi: no inputs
PACK = _Marker("PACK")  # y = (a, b) or [a, b]
MAP = _Marker("MAP")  # y = {"a": a, "b": b}: positional holds the values, ``keys_of`` the keys
UNPACK = _Marker("UNPACK")  # a, b = y

BINARY_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
UNARY_OPERATORS = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}
COMPARISONS = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: operator.contains,
    ast.NotIn: operator.contains,
}
# Python operators that broadcast elementwise: an operand whose partner is a number keeps its
# shape, so the output has exactly that operand's shape.
ELEMENTWISE_OPERATORS = frozenset(
    {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow}
)


@dataclass(frozen=True)
class Application:
    """One primitive applied to atoms: the right-hand side of a normal-form line."""

    primal: Any
    positional: tuple[ast.expr, ...]
    keywords: tuple[tuple[str, ast.expr], ...]
    node: ast.expr

    @property
    def description(self) -> str:
        if isinstance(self.node, ast.BinOp | ast.UnaryOp | ast.Compare | ast.Subscript):
            return f"the operator in {ast.unparse(self.node)}"
        if isinstance(self.node, ast.Call) and not isinstance(self.primal, Method):
            return ast.unparse(self.node.func)
        return describe(self.primal)

    def input_names(self) -> set[str]:
        """Every name this application reads."""
        atoms = [*self.positional, *(atom for _, atom in self.keywords)]
        return set().union(*(names_in(atom) for atom in atoms))


def application_of(
    value: ast.expr, form: NormalForm, namespace: Namespace, slice_name: str = "slice"
) -> Application:
    """The primitive the normal-form right-hand side ``value`` applies (``slice_name`` is
    what the generated code calls the builtin ``slice``).

    Made once per line of a normal form and namespace, and kept while the form lives: the
    analyses of one transformation (shapes, activity, the sweep's, the idioms') ask it of
    every line, six or seven times over. A subscript's application is made anew each time,
    as it holds syntax made for it (the index as ``slice(...)``) that a caller may build on."""
    if isinstance(value, ast.Subscript):
        return _application_of(value, form, namespace, slice_name)
    kept = _kept_with(form)
    if kept is None:
        return _application_of(value, form, namespace, slice_name)
    key = (id(value), id(namespace), slice_name)
    found = kept.get(key)
    if found is not None and found[0] is value and found[1] is namespace:
        return found[2]
    application = _application_of(value, form, namespace, slice_name)
    kept[key] = (value, namespace, application)  # the node is held: its id is not reused
    return application


# id of a form -> (a weak reference to the form, {(id of a right-hand side, id of the
# namespace, slice name): (the right-hand side, the namespace, its application)}); an entry
# goes when its form does. (By id and identity, not as a WeakKeyDictionary would, by the
# form's equality: comparing two forms compares their sets of names.)
_APPLICATIONS: dict[int, tuple[weakref.ref, dict]] = {}


def _kept_with(form: NormalForm) -> dict | None:
    """The applications kept with ``form`` (None for a stand-in that cannot be kept)."""
    entry = _APPLICATIONS.get(id(form))
    if entry is not None and entry[0]() is form:
        return entry[1]
    key = id(form)

    def forget(reference: weakref.ref) -> None:
        found = _APPLICATIONS.get(key)
        if found is not None and found[0] is reference:
            _APPLICATIONS.pop(key, None)

    try:
        reference = weakref.ref(form, forget)
    except TypeError:
        return None
    kept: dict = {}
    _APPLICATIONS[key] = (reference, kept)
    return kept


def _application_of(
    value: ast.expr, form: NormalForm, namespace: Namespace, slice_name: str = "slice"
) -> Application:
    if isinstance(value, ast.Name):
        return Application(IDENTITY, (value,), (), value)
    if isinstance(value, ast.Constant) or is_global_path(value, form.local_names):
        return Application(CONSTANT, (), (), value)
    if isinstance(value, ast.Tuple | ast.List):
        return Application(PACK, tuple(value.elts), (), value)
    if isinstance(value, ast.Dict):
        return Application(MAP, tuple(value.values), (), value)
    if isinstance(value, ast.BinOp):
        primal = BINARY_OPERATORS[type(value.op)]
        return Application(primal, (value.left, value.right), (), value)
    if isinstance(value, ast.UnaryOp):
        return Application(UNARY_OPERATORS[type(value.op)], (value.operand,), (), value)
    if isinstance(value, ast.Compare):
        primal = COMPARISONS[type(value.ops[0])]
        return Application(primal, (value.left, value.comparators[0]), (), value)
    if isinstance(value, ast.Subscript):
        index = index_value(value.slice, slice_name)
        maker = (
            namespace.resolve(value.value)
            if namespace is not None and is_global_path(value.value, form.local_names)
            else MISSING
        )
        if maker is not MISSING and is_index_maker(maker):  # np.r_[a, 0:3]: a join, not a read
            elements = index.elts if isinstance(index, ast.Tuple) else [index]
            primal = Index(maker, ast.unparse(value.value))
            return Application(primal, tuple(elements), (), value)
        return Application(operator.getitem, (value.value, index), (), value)
    if isinstance(value, ast.Attribute):
        return Application(Attribute(value.attr), (value.value,), (), value)
    if isinstance(value, ast.Call):
        keywords = tuple((k.arg, k.value) for k in value.keywords)
        function = value.func
        if isinstance(function, ast.Attribute) and not is_global_path(function, form.local_names):
            arguments = (function.value, *value.args)
            method = namespace.method(function) if namespace is not None else MISSING
            if method is not MISSING:  # self.helper(z) in a method: the class's own helper
                return Application(method, arguments, keywords, value)
            return Application(Method(function.attr), arguments, keywords, value)
        primal = namespace.resolve(function) if namespace is not None else MISSING
        return Application(primal, tuple(value.args), keywords, value)
    raise TypeError(f"not a normal-form expression: {ast.unparse(value)}")


def keys_of(application: Application) -> tuple | None:
    """The literal keys of a dict display ``{"a": a, "b": b}`` (a ``MAP``), in order; None
    where one is a name (generated code's ``{k: v}``, known only when it runs)."""
    if not all(isinstance(key, ast.Constant) for key in application.node.keys):
        return None
    return tuple(key.value for key in application.node.keys)


def is_number(node: ast.expr) -> bool:
    """A numeric literal (not a bool): an operand that never broadcasts another one."""
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def index_value(index: ast.expr, slice_name: str = "slice") -> ast.expr:
    """The subscript ``index`` as an ordinary expression: ``1:3`` becomes ``slice(1, 3)``."""
    if isinstance(index, ast.Slice):
        parts = [index.lower, index.upper, index.step]
        if index.step is None:
            parts = [index.lower, index.upper] if index.lower or index.upper else [None]
        arguments = [ast.Constant(value=None) if p is None else p for p in parts]
        function = ast.Name(id=slice_name, ctx=ast.Load())
        return ast.Call(func=function, args=arguments, keywords=[])
    if isinstance(index, ast.Tuple):
        return ast.Tuple(elts=[index_value(e, slice_name) for e in index.elts], ctx=ast.Load())
    return index
