"""Objects made in the differentiated function: ``cell = Cell(W, U, b)`` whose ``__init__``
only stores its arguments as attributes.

A model or a cell made where it is used, then called (``cell(h, x)``, its ``__call__``) or
asked for a method (``cell.step(h)``), is an object whose attributes are the arguments it was
made from. Its adjoint is that of any object overbar differentiates: a dict of its attributes'
adjoints by name (``runtime.attribute_bar``), filled by the pullbacks of the methods that read
them. The line that made it sends each attribute's adjoint back to the argument stored there:

    cell = Cell(W, U, b)        (__init__: self.W = W; self.U = U; self.b = b)
    W̄ += cell̄["W"],  Ū += cell̄["U"],  b̄ += cell̄["b"]

Identity: after ``__init__`` ran, ``cell.W`` is the object ``W`` (stored, not copied), so a
read of ``cell.W`` is a read of ``W``, and its adjoint is ``W``'s. Side conditions, each
checked (a class that fails one is no such class: a call of it has no rule, and is refused):

- the class is a plain Python class: its metaclass is ``type``, it makes its objects with
  ``object.__new__`` and sets their attributes with ``object.__setattr__``;
- its ``__init__`` (its own or inherited) is a Python function overbar reads, with no
  ``*args`` or ``**kwargs``, whose body is only ``self.a = p`` (or ``self.a, self.b = p, q``)
  with ``p`` a parameter, each attribute stored once (a docstring and ``pass`` may be there);
- no attribute it stores is a data descriptor of the class (a property's setter would run).
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import inspect
import sys
import types
from dataclasses import dataclass, replace
from typing import Any

from overbar.errors import OverbarError
from overbar.transpiler.kept import cache_of
from overbar.transpiler.names import NameAllocator
from overbar.transpiler.parse import Namespace, ParsedFunction, parse

_KEPT = "attributes its __init__ stores"  # the key of the analysis in what is kept of a class


@dataclass(frozen=True)
class StoredArguments:
    """What ``__init__`` of a class stores: each attribute with the parameter it holds, and the
    signature that binds a call's arguments to those parameters (without ``self``)."""

    attributes: tuple[tuple[str, str], ...]
    signature: inspect.Signature


def stored_arguments(cls: Any) -> StoredArguments | None:
    """The attributes ``cls.__init__`` stores its parameters in, for a class that meets the
    side conditions above; None for anything else (a function, a NumPy type, another class)."""
    if not isinstance(cls, type) or type(cls) is not type:
        return None
    if (cls.__module__ or "").split(".")[0] in ("builtins", "numpy", "overbar"):
        return None
    kept = cache_of(cls.__init__) if isinstance(cls.__init__, types.FunctionType) else None
    if kept is None:
        return None
    key = (_KEPT, cls)
    if key not in kept:
        kept[key] = _stored_arguments(cls)
    return kept[key]


def _stored_arguments(cls: type) -> StoredArguments | None:
    if (
        cls.__new__ is not object.__new__
        or inspect.getattr_static(cls, "__setattr__") is not object.__setattr__
    ):
        return None
    initialise = cls.__init__
    try:
        tree = parse(initialise).tree
    except (OverbarError, OSError, TypeError, SyntaxError):
        return None
    arguments = tree.args
    if arguments.vararg or arguments.kwarg or not arguments.args:
        return None
    own = arguments.args[0].arg
    parameters = {a.arg for a in [*arguments.args[1:], *arguments.kwonlyargs]}
    stored: dict[str, str] = {}
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        pairs = _stored_pairs(statement, own)
        if pairs is None:
            return None
        for attribute, parameter in pairs:
            if parameter not in parameters or attribute in stored:
                return None
            if hasattr(inspect.getattr_static(cls, attribute, None), "__set__"):
                return None
            stored[attribute] = parameter
    signature = inspect.signature(initialise)
    without_self = signature.replace(parameters=list(signature.parameters.values())[1:])
    return StoredArguments(tuple(stored.items()), without_self)


def _stored_pairs(statement: ast.stmt, own: str) -> list[tuple[str, str]] | None:
    """``self.a = p`` as [("a", "p")], ``self.a, self.b = p, q`` as both; None otherwise."""
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return None
    target, value = statement.targets[0], statement.value
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        if len(target.elts) != len(value.elts):
            return None
        pairs = [_stored_pair(t, v, own) for t, v in zip(target.elts, value.elts, strict=True)]
        return None if None in pairs else pairs
    pair = _stored_pair(target, value, own)
    return None if pair is None else [pair]


def _stored_pair(target: ast.expr, value: ast.expr, own: str) -> tuple[str, str] | None:
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == own
        and isinstance(value, ast.Name)
    ):
        return target.attr, value.id
    return None


def stored_atoms(application: Any) -> list[tuple[str, ast.expr]] | None:
    """For ``cell = Cell(W, U, b)`` (an application whose primal is such a class): each
    attribute with the argument (an atom of the normal form) stored there; None for any other
    application, or a call whose arguments do not bind to ``__init__``'s parameters."""
    stored = stored_arguments(application.primal)
    if stored is None:
        return None
    try:
        bound = stored.signature.bind(*application.positional, **dict(application.keywords))
    except TypeError:
        return None
    return [
        (attribute, bound.arguments[parameter])
        for attribute, parameter in stored.attributes
        if parameter in bound.arguments  # a default left out: a constant, no adjoint
    ]


# -- classes whose objects can be taken apart into their attributes (objects.py) -------------


@dataclass(frozen=True)
class Initialiser:
    """``__init__`` of a class as a function of its parameters without ``self``: each
    ``self.a`` of its body a local named ``a`` (``self.scale = 1 / np.sqrt(n)`` is
    ``scale = 1 / np.sqrt(n)``), each parameter renamed where it has an attribute's name
    (``renamed``: ``self.W = W`` is ``W = W_2``), ending ``return None``. ``attributes`` are
    the attributes it stores, each on every run; ``function`` is ``__init__`` itself, whose
    signature binds a call's arguments."""

    parsed: ParsedFunction
    attributes: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...]
    function: Any


def initialiser(cls: Any) -> Initialiser | None:
    """``cls.__init__`` as a function (above), for a class whose objects can be taken apart:
    None for anything else. Side conditions, each checked:

    - a plain Python class of the user's: its metaclass is ``type``, it makes its objects with
      ``object.__new__``, reads their attributes with ``object.__getattribute__`` and has no
      ``__getattr__``; it sets them with ``object.__setattr__``, or is a dataclass whose
      ``__init__`` the decorator made (a frozen one's sets them with ``object.__setattr__``);
    - its ``__init__`` is that dataclass's, of fields all set from parameters (no
      ``__post_init__``, no ``init=False`` field), or a Python function overbar reads, with no
      ``*args`` or ``**kwargs``, whose body reads ``self`` only as ``self.a`` of an attribute
      a statement before stored, stores only by ``self.a = ...`` (``self.a op= ...``,
      ``self.a: T = ...``, tuples of such targets) as a statement of the body itself (not in a
      branch or a loop, so each attribute is stored on every run), and has no ``super``,
      ``__class__``, nested function, lambda, class, ``return``, ``global`` or ``nonlocal``;
    - no attribute it stores is a data descriptor of the class (a property, a slot), whose
      ``__set__`` would run instead of a store in the object.
    """
    if not isinstance(cls, type) or type(cls) is not type:
        return None
    if (cls.__module__ or "").split(".")[0] in ("builtins", "numpy", "scipy", "overbar"):
        return None
    kept = cache_of(cls.__init__) if isinstance(cls.__init__, types.FunctionType) else None
    if kept is None:
        return None
    key = ("__init__ as a function", cls)
    if key not in kept:
        kept[key] = _initialiser(cls)
    return kept[key]


def _initialiser(cls: type) -> Initialiser | None:
    if (
        cls.__new__ is not object.__new__
        or inspect.getattr_static(cls, "__getattribute__") is not object.__getattribute__
        or inspect.getattr_static(cls, "__getattr__", None) is not None
    ):
        return None
    made = _made_by_dataclass(cls)
    frozen = made is not None and made[3]  # its __init__ stores by object.__setattr__
    if not frozen and inspect.getattr_static(cls, "__setattr__") is not object.__setattr__:
        return None
    if made is not None:
        tree, namespace, filename, _ = made
    else:
        try:
            parsed = parse(cls.__init__)
        except (OverbarError, OSError, TypeError, SyntaxError):
            return None
        tree, namespace, filename = parsed.tree, parsed.namespace, parsed.filename
    as_function = _without_self(tree)
    if as_function is None:
        return None
    tree, attributes, renamed = as_function
    for attribute in attributes:
        found = inspect.getattr_static(cls, attribute, None)
        if hasattr(found, "__set__") or hasattr(found, "__delete__"):
            return None
    parsed = ParsedFunction(cls.__init__, tree, filename, replace(namespace, owner=None))
    return Initialiser(parsed, attributes, renamed, cls.__init__)


def _made_by_dataclass(cls: type) -> tuple[ast.FunctionDef, Namespace, str, bool] | None:
    """For a dataclass whose ``__init__`` the decorator made, of fields all set from its
    parameters (no ``default_factory``, whose ``__init__`` calls it): that ``__init__``
    written out (``self.W = W`` for each field) with the namespace of the class's module, its
    file, and whether it is frozen; None for any other class."""
    owner = next((k for k in cls.__mro__ if "__init__" in vars(k)), None)
    if owner is None or not dataclasses.is_dataclass(owner):
        return None
    initialise = vars(owner)["__init__"]
    if (
        not isinstance(initialise, types.FunctionType)
        or not initialise.__code__.co_filename.startswith("<")  # written by the user
        or initialise.__qualname__ != f"{owner.__qualname__}.__init__"
        or inspect.getattr_static(cls, "__post_init__", None) is not None
    ):
        return None
    fields = dataclasses.fields(owner)
    parameters = list(inspect.signature(initialise).parameters)[1:]
    if any(
        not f.init or f.default_factory is not dataclasses.MISSING for f in fields
    ) or parameters != [f.name for f in fields]:
        return None  # init=False fields, factories, InitVar pseudo-fields: more than stores
    own = "self" if "self" not in parameters else "__overbar_self"
    arguments = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=own), *(ast.arg(arg=name) for name in parameters)],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    body = [
        ast.Assign(
            targets=[ast.Attribute(ast.Name(own, ast.Load()), name, ast.Store())],
            value=ast.Name(name, ast.Load()),
        )
        for name in parameters
    ]
    tree = ast.FunctionDef("__init__", arguments, body or [ast.Pass()], [], None, None)
    ast.fix_missing_locations(tree)
    module = sys.modules.get(cls.__module__)
    scope = vars(module) if module is not None else {}
    namespace = Namespace(scope, {}, vars(builtins))
    return tree, namespace, initialise.__code__.co_filename, owner.__dataclass_params__.frozen


def _without_self(
    tree: ast.FunctionDef,
) -> tuple[ast.FunctionDef, tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """``__init__``'s tree as a function without ``self`` (``Initialiser``), its attributes
    and its renamed parameters; None where the body does more than the conditions allow."""
    arguments = tree.args
    if arguments.vararg or arguments.kwarg or arguments.posonlyargs or not arguments.args:
        return None
    own = arguments.args[0].arg
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    stored: list[str] = []
    for statement in body:
        targets = _attribute_targets(statement, own)
        for node in ast.walk(statement):
            if isinstance(
                node,
                ast.FunctionDef
                | ast.AsyncFunctionDef
                | ast.Lambda
                | ast.ClassDef
                | ast.Return
                | ast.Global
                | ast.Nonlocal
                | ast.Yield
                | ast.YieldFrom,
            ) or (isinstance(node, ast.Name) and node.id in ("super", "__class__")):
                return None
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id != own:
                    continue
                if isinstance(node.ctx, ast.Store) and node not in targets:
                    return None  # a store in a branch or a loop, a for target, ...
                if isinstance(node.ctx, ast.Load) and node.attr not in stored:
                    return None  # read before this body stored it
                if isinstance(node.ctx, ast.Del):
                    return None
        own_reads = [
            node for node in ast.walk(statement) if isinstance(node, ast.Name) and node.id == own
        ]
        in_attributes = [
            node
            for node in ast.walk(statement)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == own
        ]
        if len(own_reads) != len(in_attributes):
            return None  # self itself, passed on, returned, stored, bound again
        if isinstance(statement, ast.AugAssign) and any(t.attr not in stored for t in targets):
            return None  # self.a += v reads a it has not stored
        for target in targets:
            if target.attr not in stored:
                stored.append(target.attr)
    parameters = [a.arg for a in [*arguments.args[1:], *arguments.kwonlyargs]]
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | set(parameters)
    taken |= set(stored)
    names = NameAllocator(taken)
    renames = {p: names.fresh(p) for p in parameters if p in stored}
    assigned = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    read_only = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - assigned
    if (read_only - set(parameters)) & set(stored):
        return None  # a global read by an attribute's name: the local would hide it
    locals_named_like = (assigned & set(stored)) - set(parameters)
    renames.update({n: names.fresh(n) for n in locals_named_like})
    made = _SelfRemover(own, renames).visit(
        ast.FunctionDef(
            tree.name,
            copy.deepcopy(arguments),
            copy.deepcopy(body) or [ast.Pass()],
            [],
            None,
            None,
        )
    )
    made.args.args = made.args.args[1:]
    for argument in [*made.args.args, *made.args.kwonlyargs]:
        argument.arg = renames.get(argument.arg, argument.arg)
    made.args.defaults, made.args.kw_defaults = [], [None] * len(made.args.kwonlyargs)
    made.body.append(ast.Return(ast.Constant(None)))
    ast.copy_location(made, tree)
    ast.fix_missing_locations(made)
    renamed = tuple((p, renames[p]) for p in parameters if p in renames)
    return made, tuple(stored), renamed


def _attribute_targets(statement: ast.stmt, own: str) -> list[ast.Attribute]:
    """The ``self.a`` this statement of ``__init__``'s body stores into as its target."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AugAssign | ast.AnnAssign):
        targets = [statement.target]
    else:
        return []
    found = []
    for target in targets:
        parts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
        found.extend(
            part
            for part in parts
            if isinstance(part, ast.Attribute)
            and isinstance(part.value, ast.Name)
            and part.value.id == own
        )
    return found


class _SelfRemover(ast.NodeTransformer):
    """``self.a`` as the name ``a``, and names in ``renames`` renamed."""

    def __init__(self, own: str, renames: dict[str, str]):
        self.own, self.renames = own, renames

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if isinstance(node.value, ast.Name) and node.value.id == self.own:
            return ast.copy_location(ast.Name(node.attr, node.ctx), node)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.renames:
            return ast.copy_location(ast.Name(self.renames[node.id], node.ctx), node)
        return node
