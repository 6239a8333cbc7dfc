"""The call path of a gradient: a small function generated for the user's signature.

The compiled adjoint is specialised on the shapes of its arguments (their ranks and which
dimensions are 1), so a call must find the adjoint made for its arguments. For

    def loss(W, b, x, t): ...        differentiated with respect to W and b

the entry is

    def entry(W, b, x, t):
        key = (
            W.shape if type(W) is ndarray and W.dtype is float64 else type(W),
            b.shape if type(b) is ndarray and b.dtype is float64 else type(b),
            x.shape if type(x) is ndarray and x.dtype.kind in numbers else (
                (integers, x.shape) if type(x) is ndarray and x.dtype.kind in integers
                else type(x)
            ),
            t.shape if ... (the same)
        )
        compiled = specialised.get(key)
        if compiled is None or (bindings and not bindings_hold(bindings)):
            try:
                return slow(W, b, x, t)
            except recursion_error as error:
                return deeper(error, slow, W, b, x, t)  # see ``deeper``
        try:
            returned = compiled(W, b, x, t)
        except no_result_error as error:  # a result that is not a real number
            raise located(error) from None  # ... pointing at the user's return line
        except recursion_error as error:
            return deeper(error, slow, W, b, x, t)
        except Exception as error:  # raised in the adjoint: a note names the user's line
            annotate(error)
            raise
        return returned

``specialised`` maps the keys of arguments already seen to their compiled adjoint; ``slow``
checks the arguments, finds or makes the adjoint for their shapes and, when the key says all
there is to check (float64 arrays and Python floats to differentiate, arrays of real numbers
otherwise), remembers it under the key. An array of integers not differentiated (labels) is
keyed apart from one of floats of the same shape: its elements are known to be integers, and
the adjoint is specialised on that (``runtime.shapes.IntegerDims``). A float32 or integer
array to differentiate, or a complex array among the others, takes the slow path every time,
and so does another library's array (Dask, CuPy): its key is its type, which says nothing of
its shape, so the slow path finds the adjoint for its shape each time (a Dask call builds a
graph, which costs far more). The key
of a dict, list or tuple to differentiate, and of any dict, is its structure and its leaves'
keys (``overbar.trees.container_key``).
"""

from __future__ import annotations

import ast
import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from overbar.runtime.arrays import is_foreign_type
from overbar.runtime.shapes import INTEGER_KINDS, REAL_KINDS
from overbar.transpiler.bindings import bindings_hold
from overbar.transpiler.names import ReplaceNames
from overbar.trees import CONTAINERS, container_key, key_leaves

# The dtype kinds of the arrays not differentiated that are keyed by their shape alone (floats
# and truth values); arrays of integers are keyed by their shape marked as theirs.
_NUMBER_KINDS = "".join(kind for kind in REAL_KINDS if kind not in INTEGER_KINDS)

# Types of arguments to differentiate that need no check beyond the key itself.
FAST_TYPES = frozenset({float, np.float64})


def make_entry(
    function: Callable,
    wrt: tuple[str, ...],
    specialised: dict,
    slow: Callable,
    result: str,
    located: Callable[[Exception], Exception],
    no_result_error: type[Exception],
    annotate: Callable[[BaseException], None],
    bindings: list,
) -> Callable:
    """The entry of ``function``'s gradient: same signature (defaults included), it looks up
    ``specialised`` and calls the adjoint, or ``slow`` on a miss, or where a name the adjoints
    were derived for holds another function now (``bindings``, which ``slow`` fills: see
    ``transpiler/bindings.py``). ``result`` is the expression the entry returns, of
    ``returned`` (what the adjoint returns)."""
    signature = inspect.signature(function)
    taken = set(signature.parameters)

    def own(name: str) -> str:  # the entry's own names never shadow a parameter
        while name in taken:
            name += "_"
        taken.add(name)
        return name

    names = {
        base: own(base)
        for base in ("ndarray", "float64", "numbers", "integers", "type", "specialised", "slow")
        + ("located",)
        + ("no_result_error", "annotate", "recursion_error", "deeper", "containers")
        + ("container_key", "dict", "bindings", "bindings_hold")
        + ("key", "compiled", "returned", "error")
    }
    ndarray, float64, numbers, integers, type_ = (
        names["ndarray"],
        names["float64"],
        names["numbers"],
        names["integers"],
        names["type"],
    )
    parameters, arguments, keys = [], [], []
    keyword_only_started = False
    for parameter in signature.parameters.values():
        name = parameter.name
        kind = parameter.kind
        if kind is parameter.VAR_POSITIONAL:
            parameters.append(f"*{name}")
            arguments.append(f"*{name}")
            keyword_only_started = True
            keys.append("None")
            continue
        if kind is parameter.VAR_KEYWORD:
            parameters.append(f"**{name}")
            arguments.append(f"**{name}")
            keys.append("None")
            continue
        if kind is parameter.KEYWORD_ONLY and not keyword_only_started:
            parameters.append("*")
            keyword_only_started = True
        default = "" if parameter.default is parameter.empty else "=None"
        parameters.append(name + default)
        if kind is parameter.POSITIONAL_ONLY and _last_positional_only(signature, name):
            parameters.append("/")
        arguments.append(f"{name}={name}" if kind is parameter.KEYWORD_ONLY else name)
        is_array = f"{type_}({name}) is {ndarray}"
        if name in wrt:
            condition = f"{is_array} and {name}.dtype is {float64}"
        else:
            condition = f"{is_array} and {name}.dtype.kind in {numbers}"
        other = f"{type_}({name})"
        if name in wrt:  # a container of parameters: its structure and its leaves' keys
            other = (
                f"({names['container_key']}({name}, True) "
                f"if {type_}({name}) in {names['containers']} else {other})"
            )
        else:  # a dict: its keys (a loop over it walks them) and its leaves' keys
            other = (
                f"({names['container_key']}({name}, False) "
                f"if {type_}({name}) is {names['dict']} else {other})"
            )
            integral = f"{is_array} and {name}.dtype.kind in {integers}"
            other = f"(({integers}, {name}.shape) if {integral} else {other})"
        keys.append(f"{name}.shape if {condition} else {other}")
    call = ", ".join(arguments)
    key, compiled, returned = names["key"], names["compiled"], names["returned"]
    returned_expression = ast.unparse(
        ReplaceNames({"returned": ast.Name(id=returned, ctx=ast.Load())}).visit(
            ast.parse(result, mode="eval")
        )
    )
    source = (
        f"def entry({', '.join(parameters)}):\n"
        f"    {key} = ({', '.join(keys)},)\n"
        f"    {compiled} = {names['specialised']}.get({key})\n"
        f"    if {compiled} is None or "
        f"({names['bindings']} and not {names['bindings_hold']}({names['bindings']})):\n"
        f"        try:\n"
        f"            return {names['slow']}({call})\n"
        f"        except {names['recursion_error']} as {names['error']}:\n"
        f"            return {names['deeper']}({names['error']}, {names['slow']}, {call})\n"
        f"    try:\n"
        f"        {returned} = {compiled}({call})\n"
        f"    except {names['no_result_error']} as {names['error']}:\n"
        f"        raise {names['located']}({names['error']}) from None\n"
        f"    except {names['recursion_error']} as {names['error']}:\n"
        f"        return {names['deeper']}({names['error']}, {names['slow']}, {call})\n"
        f"    except Exception as {names['error']}:\n"
        f"        {names['annotate']}({names['error']})\n"
        f"        raise\n"
        f"    return {returned_expression}\n"
    )
    values = {
        "ndarray": np.ndarray,
        "float64": _FLOAT64,
        "numbers": _NUMBER_KINDS,
        "integers": INTEGER_KINDS,
        "type": type,
        "specialised": specialised,
        "slow": slow,
        "located": located,
        "no_result_error": no_result_error,
        "annotate": annotate,
        "recursion_error": RecursionError,
        "deeper": deeper,
        "containers": CONTAINERS,
        "container_key": argument_key,
        "dict": dict,
        "bindings": bindings,
        "bindings_hold": bindings_hold,
    }
    namespace: dict[str, Any] = {names[base]: value for base, value in values.items()}
    exec(compile(source, f"<overbar entry of {function.__qualname__}>", "exec"), namespace)
    entry = namespace["entry"]
    entry.__defaults__ = function.__defaults__
    entry.__kwdefaults__ = function.__kwdefaults__
    return entry


# Frames a gradient call puts between its caller and the adjoint (the entry, the slow path, the
# guard), and the interpreter's call of the gradient object.
RECURSION_MARGIN = 50
_LIMIT = threading.Lock()
_RAISED = {"count": 0, "saved": 0}
_RETRYING = threading.local()


def deeper(error: RecursionError, slow: Callable, *args: Any, **kwargs: Any) -> Any:
    """A gradient call that ran out of stack, run again with the recursion limit raised by
    ``RECURSION_MARGIN`` frames, so that a recursive function goes as deep under ``grad`` as
    plain Python evaluates it: the generated code takes one frame per level of the user's
    recursion, as the function does, but the gradient's own call path takes a few more.

    The limit is raised only while such a retry runs in some thread, and then restored: the
    first retry saves it, the last one puts it back (unless the program changed it meanwhile).
    This is safe because the margin is a constant number of frames, small beside the stack a
    thread has (Python-to-Python calls take no C stack since Python 3.11), and a program that
    recurses without end still meets a ``RecursionError``, the original one if the retry fails
    too. The function runs twice when this happens (the first run did not finish).
    """
    if getattr(_RETRYING, "active", False):
        raise error
    with _LIMIT:
        if _RAISED["count"] == 0:
            _RAISED["saved"] = sys.getrecursionlimit()
            sys.setrecursionlimit(_RAISED["saved"] + RECURSION_MARGIN)
        _RAISED["count"] += 1
    _RETRYING.active = True
    try:
        return slow(*args, **kwargs)
    except RecursionError:
        raise error from None
    finally:
        _RETRYING.active = False
        with _LIMIT:
            _RAISED["count"] -= 1
            if (
                _RAISED["count"] == 0
                and sys.getrecursionlimit() == _RAISED["saved"] + RECURSION_MARGIN
            ):
                sys.setrecursionlimit(_RAISED["saved"])


def _last_positional_only(signature: inspect.Signature, name: str) -> bool:
    positional_only = [
        p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_ONLY
    ]
    return positional_only[-1] == name


_FLOAT64 = np.dtype(np.float64)


def argument_key(value: Any, differentiated: bool) -> Any:
    """The key element the entry computes for ``value`` (for the slow path to store under): a
    differentiated container's holds its structure and its leaves' keys."""
    if type(value) is dict or (differentiated and type(value) in CONTAINERS):
        return container_key(value, _LEAF_KEYS[differentiated])
    if type(value) is not np.ndarray:
        return type(value)
    if value.dtype is _FLOAT64 or (not differentiated and value.dtype.kind in _NUMBER_KINDS):
        return value.shape
    if not differentiated and value.dtype.kind in INTEGER_KINDS:
        return (INTEGER_KINDS, value.shape)
    return type(value)


def _leaf_key(value: Any, differentiated: bool) -> Any:
    if type(value) is np.ndarray and value.dtype is _FLOAT64:
        return value.shape
    return argument_key(value, differentiated)


_LEAF_KEYS = {
    True: lambda leaf: _leaf_key(leaf, True),
    False: lambda leaf: _leaf_key(leaf, False),
}


def _calls(kind: type) -> bool:
    """Whether values of ``kind`` are functions (or callable objects), whose key, their type,
    does not tell one from another: the adjoint is specialised on the function passed."""
    return any("__call__" in vars(k) for k in kind.__mro__[:-1])


def storable(key: tuple, differentiated: tuple[bool, ...]) -> bool:
    """Whether arguments with this key need no check beyond the key, and the key says all the
    adjoint is specialised on: every argument to differentiate is a float64 array (its key is
    its shape) or a Python float, and no other argument is an array of complex numbers or
    objects (whose key, its type, says nothing of its shape) or another library's array, or a
    function (whose key, its type, does not say which function it is)."""
    return all(
        (
            all(isinstance(leaf, tuple) or leaf in FAST_TYPES for leaf in key_leaves(element))
            if chosen
            else all(
                leaf is not np.ndarray
                and not (isinstance(leaf, type) and (is_foreign_type(leaf) or _calls(leaf)))
                for leaf in key_leaves(element)
            )
        )
        for element, chosen in zip(key, differentiated, strict=True)
    )
