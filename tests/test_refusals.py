"""Refusals that point at the user's own file, line and column (issue 8), and the near misses
that are supported instead: calls that run strings or reach values by name, writes into module
or closure state, and what the def itself rules out (lambdas, bound methods, decorators,
unreadable source, ``*args``, ``async def``, generators, ``global`` and ``nonlocal``)."""

from __future__ import annotations

import importlib
import linecache
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import overbar
from overbar.errors import (
    ArgumentError,
    OverbarError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)
from overbar.transpiler import parse as parse_module
from overbar.transpiler.fence import DYNAMIC_FUNCTIONS
from tests.support import define

X = np.array([0.3, -1.2, 2.0])


def assert_points_at(error: OverbarError, filename: str, spot: str, line: int | None = None):
    """The rendered error starts ``filename:line:column``, then the source line holding
    ``spot``, then carets that start under ``spot`` (and cover it, where it is on one line)."""
    text = Path(filename).read_text() if os.path.exists(filename) else ""
    if line is None:
        matching = [n for n, t in enumerate(text.splitlines(), 1) if spot in t]
        assert len(matching) == 1, f"{spot!r} is on lines {matching}: say which"
        line = matching[0]
    location = error.location
    assert location is not None
    assert (location.filename, location.line) == (filename, line)
    header, source_line, caret_line = str(error).splitlines()[:3]
    assert header == f"{filename}:{line}:{location.column + 1}"
    start = caret_line.index("^")
    width = caret_line.count("^")
    assert caret_line == " " * start + "^" * width
    assert source_line[start:].startswith(spot), (source_line, caret_line)
    if width > 1:  # a span on one line: the carets cover exactly the construct
        assert source_line[start : start + width] == spot, (source_line, caret_line)
    return error


def refusal(function, *args, error=UnsupportedSyntaxError):
    with pytest.raises(error) as caught:
        overbar.grad(function)(*args)
    return caught.value


# Calls that run code from strings or reach values by name: a silently zero gradient before.

DYNAMIC = [
    (
        'return eval("np.sum(x * x * x)")',
        "a call of eval(), which runs code from a string",
        "eval",
    ),
    ('exec("y = x * 2")\n    return np.sum(x)', "a call of exec(), which runs code", "exec"),
    (
        'c = compile("x", "f", "eval")\n    return np.sum(x)',
        "compile(), which makes code",
        "compile",
    ),
    (
        's = getattr(np, "sum")\n    return s(x)',
        "a call of getattr(), which reads an attr",
        "getattr",
    ),
    ('t = getattr(x, "T")\n    return np.sum(t)', "getattr()", "getattr"),
    ('z = setattr(np, "w", 1)\n    return np.sum(x)', "setattr(), which changes", "setattr"),
    ('z = delattr(np, "w")\n    return np.sum(x)', "delattr(), which removes", "delattr"),
    (
        'return np.sum(globals()["np"].sum(x))',
        "globals(), which reads variables by name",
        "globals",
    ),
    ('return np.sum(locals()["x"])', "a call of locals(), which reads variables", "locals"),
    ('return np.sum(vars()["x"])', "a call of vars(), which reads variables", "vars"),
    ('m = __import__("numpy")\n    return np.sum(x)', "__import__(), which imports", "__import__"),
    (
        'm = importlib.import_module("numpy")\n    return np.sum(x)',
        "a call of importlib.import_module(), which imports a module",
        "importlib.import_module",
    ),
    ('return np.sum(x) + builtins.eval("1.0")', "builtins.eval (eval)", "builtins.eval"),
    (
        "e = sys._getframe()\n    return np.sum(x)",
        "a call of sys._getframe(), which reads variables",
        "sys._getframe",
    ),
    ('return np.sum(x) + run("1.0")', "a call of run (eval), which runs code", "run"),
    ('return np.sum(x) + load("numpy").pi', "a call of load (importlib.import_module)", "load"),
    ("fs = [eval, abs]\n    return np.sum(x)", "a use of eval, which runs code", "eval"),
]


@pytest.mark.parametrize("body, what, spot", DYNAMIC, ids=[d[2] + ":" + d[1] for d in DYNAMIC])
def test_code_from_strings_and_values_by_name_are_refused(body, what, spot):
    f = define(
        f"run = eval\nload = importlib.import_module\n\ndef f(x):\n    {body}\n",
        namespace={"importlib": importlib, "sys": sys},
    )
    error = refusal(f, X)
    assert what in str(error)
    assert any(f" in f: {advice}" in str(error) for *_, advice in DYNAMIC_FUNCTIONS)
    assert_points_at(error, f.__code__.co_filename, spot, line=13)


def test_local_names_that_shadow_the_builtins_are_fine():
    f = define("""
        def f(x, eval=2.0):
            vars = x * eval
            getattr = np.sin(vars)
            globals = [v * v for v in getattr]
            if hasattr(x, "shape"):
                vars = vars + 1.0
            return np.sum(vars * getattr) + globals[0]
        """)
    overbar.check_grad(f, [X])


def test_a_module_function_named_like_a_builtin_is_fine():
    f = define("""
        def vars(v):
            return v * 3.0

        def f(x):
            return np.sum(vars(x) * x)
        """)
    overbar.check_grad(f, [X])


# Functions that change state outside themselves: a crash inside the generated code before.

STATE = [
    ("state[0] += 1.0", "a write into state, a module-level list,", "state[0]"),
    ("table[0] = x[0]", "a write into table, a module-level ndarray,", "table[0]"),
    ('cache["x"] = x', "a write into cache, a module-level dict,", 'cache["x"]'),
    ("state.append(1.0)", "appending to state, a module-level list,", "state.append(1.0)"),
    ("v = state.pop()", "a call of pop(), which changes an array or list in place", "state.pop()"),
    ("cache.update(a=x)", "an expression statement", "cache.update(a=x)"),
    ("box.value = x", "an assignment to an attribute of box, a module-level Box,", "box.value"),
    ("box.items[0] = x", "a write into part of an array read from an expression", "box.items[0]"),
]


@pytest.mark.parametrize("statement, what, spot", STATE, ids=[s[1] for s in STATE])
def test_writes_into_module_state_are_refused(statement, what, spot):
    f = define(f"""
        class Box:
            items = [0.0]

        state = [0.0]
        table = np.zeros(3)
        cache = {{}}
        box = Box()

        def f(x):
            {statement}
            return np.sum(x * x)
        """)
    error = refusal(f, X)
    assert what in str(error)
    if "module-level" in what:
        assert "must not change anything outside itself" in str(error)
        assert "pass" in str(error) and "in as an argument" in str(error)
    assert_points_at(error, f.__code__.co_filename, spot, line=19)


def test_writes_through_a_closure_are_refused():
    f = define("""
        def make():
            counts = np.zeros(3)
            seen = []

            def inner(x):
                counts[0] = x[0]
                return np.sum(x * x)

            def appends(x):
                seen.append(x)
                return np.sum(x * x)

            return inner, appends

        f, g = make()
        """)
    g = f.__globals__["g"]
    error = refusal(f, X)
    assert "a write into counts, a variable of the enclosing function make" in str(error)
    assert_points_at(error, f.__code__.co_filename, "counts[0]")
    error = refusal(g, X)
    assert "appending to seen, a variable of the enclosing function make" in str(error)
    assert_points_at(error, f.__code__.co_filename, "seen.append(x)")


def test_global_and_nonlocal_statements_point_at_themselves():
    f = define("""
        total = 0.0

        def f(x):
            global total
            total = np.sum(x)
            return total

        def make():
            scale = 1.0

            def inner(x):
                nonlocal scale
                scale = 2.0
                return np.sum(x) * scale

            return inner

        g = make()
        """)
    error = refusal(f, X)
    assert "a global statement" in str(error) and "pass the value in" in str(error)
    assert_points_at(error, f.__code__.co_filename, "global total")
    error = refusal(f.__globals__["g"], X)
    assert "a nonlocal statement" in str(error)
    assert_points_at(error, f.__code__.co_filename, "nonlocal scale")


def test_writes_into_arrays_the_function_made_are_fine():
    f = define("""
        state = np.array([1.0, 2.0, 3.0])

        def f(x):
            own = np.zeros(3)
            own[0] = x[1] * x[2]
            copy = state.copy()
            copy[1] = x[0]
            parts = []
            parts.append(x * copy)
            return np.sum(own * x) + np.sum(parts[0])
        """)
    overbar.check_grad(f, [X])
    assert np.array_equal(f.__globals__["state"], [1.0, 2.0, 3.0])


# What the def itself rules out: refused when overbar.grad(f) is called, not at the first call.


def test_star_star_kwargs_are_specialised_on_each_call_and_wrt_naming_them_is_refused():
    f = define("""
        def f(x, *rest, **named):
            return np.sum(x)

        def g(x, **options):
            return np.sum(x)
        """)  # more in test_varargs
    x = np.arange(3.0)
    for name, spot in (("f", "*rest"), ("g", "**options")):
        function = f.__globals__[name]
        np.testing.assert_array_equal(overbar.grad(function)(x, flag=True, w=x), np.ones(3))
        with pytest.raises(ArgumentError, match=re.escape(f"wrt names {spot} of {name}")):
            overbar.grad(function, wrt=spot.lstrip("*"))  # refused at once


def test_async_def_and_generators_are_refused_at_construction():
    f = define("""
        async def f(x):
            return np.sum(x)

        def g(x):
            for v in x:
                yield v * v
        """)
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(f)
    assert "an async function (async def)" in str(caught.value)
    assert_points_at(caught.value, f.__code__.co_filename, "async def f")
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(f.__globals__["g"])
    assert "a generator (a function with yield)" in str(caught.value)
    assert_points_at(caught.value, f.__code__.co_filename, "yield v * v")


def test_source_that_cannot_be_read_says_which_function_and_where():
    namespace = {"np": np}
    exec(compile("\n\ndef made(x):\n    return np.sum(x * x)\n", "<string>", "exec"), namespace)
    with pytest.raises(SourceUnavailableError) as caught:
        overbar.grad(namespace["made"])
    message = str(caught.value)
    assert message.startswith("<string>:3:1\n")  # where the code object says it was defined
    assert "cannot read the source of made, made from a string by exec" in message
    assert "define the function in a module" in message


def test_source_typed_at_the_prompt_is_refused():
    script = "import overbar\n\ndef f(x):\n    return x * x\n\noverbar.grad(f)\n"
    result = subprocess.run(
        [sys.executable, "-"],
        input=script,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert "SourceUnavailableError: <stdin>:3:1" in result.stderr
    assert "source of f, typed at the interactive prompt" in result.stderr


def test_a_deleted_source_file_is_refused():
    f = define("def f(x):\n    return np.sum(x * x)\n")
    lam = define("f = lambda x: np.sum(x * x)\n")
    for function in (f, lam):
        filename = function.__code__.co_filename
        os.remove(filename)
        linecache.checkcache(filename)
        with pytest.raises(SourceUnavailableError) as caught:
            overbar.grad(function)
        assert f"defined in {filename}" in str(caught.value)
        assert str(caught.value).startswith(f"{filename}:9:1")


# Decorators.

DECORATED = """
    import functools

    def scaled(function):
        @functools.wraps(function)
        def wrapper(x):
            return 2.0 * function(x)

        return wrapper

    def registered(function):
        return function

    def doubled(function):
        def plain_wrapper(x):
            return 2.0 * function(x)

        return plain_wrapper

    @scaled
    def wrapped(x):
        return np.sum(x * x)

    @functools.lru_cache(maxsize=None)
    def cached(x):
        return x * x

    @registered
    def kept(x):
        return np.sum(x**3)

    @doubled
    def replaced(x):
        return np.sum(x**3)
    """


def test_a_decorator_that_wraps_the_function_is_refused_at_the_decorator():
    f = define(DECORATED, "wrapped")
    module = f.__globals__
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(module["wrapped"])
    message = str(caught.value)
    assert "through the decorator @scaled, which replaces it with another function" in message
    wrapper = module["wrapped"].__code__  # what runs: the wrapper, with its own line
    assert f"wrapper, defined at {wrapper.co_filename}:{wrapper.co_firstlineno}" in message
    assert "wrapped.__wrapped__" in message
    assert_points_at(caught.value, f.__code__.co_filename, "@scaled")
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(module["cached"])
    assert "@functools.lru_cache" in str(caught.value)
    assert_points_at(caught.value, f.__code__.co_filename, "@functools.lru_cache(maxsize=None)")


def test_grad_over_a_wrapping_decorator_is_refused_where_the_module_is_loaded():
    source = """
        import functools

        def scaled(function):
            @functools.wraps(function)
            def wrapper(x):
                return 2.0 * function(x)

            return wrapper

        @overbar.grad
        @scaled
        def f(x):
            return np.sum(x * x)
        """
    with pytest.raises(UnsupportedSyntaxError) as caught:
        define(source)
    assert "the decorator @scaled" in str(caught.value)  # not @overbar.grad
    assert_points_at(caught.value, caught.value.location.filename, "@scaled")


def test_decorators_that_return_a_function_of_their_own_are_differentiated_as_it():
    f = define(DECORATED, "kept")
    overbar.check_grad(f, [X])  # the def itself, registered
    replaced = f.__globals__["replaced"]  # plain_wrapper, which calls the def
    assert np.allclose(overbar.grad(replaced)(X), 2.0 * 3.0 * X**2)
    overbar.check_grad(replaced, [X])


# Lambdas: read from their line in the file.


def test_a_lambda_is_differentiated():
    gradient = overbar.grad(lambda x: np.sum(np.tanh(x) * x))
    overbar.check_grad(lambda x: np.sum(np.tanh(x) * x), [X])
    assert np.allclose(gradient(X), np.tanh(X) + X * (1 - np.tanh(X) ** 2))
    assert "def lambda_" in gradient.source


def test_lambdas_sharing_a_line_are_told_apart():
    first, second = (lambda x: np.sum(x * 2.0)), (lambda x: np.sum(x**3))
    assert np.allclose(overbar.grad(first)(X), 2.0)
    assert np.allclose(overbar.grad(second)(X), 3.0 * X**2)
    spread = overbar.grad(lambda y, k=2.0: np.sum(y**k))  # the lambda's own line
    assert np.allclose(spread(X), 2.0 * X)


def test_lambdas_that_cannot_be_told_apart_are_refused(monkeypatch):
    monkeypatch.setattr(parse_module, "_expression_spans", lambda code: None)  # Python 3.10
    first, _ = (lambda x: np.sum(x * 2.0)), (lambda x: np.sum(x**3))
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(first)
    assert "cannot tell which of the 2 lambdas" in str(caught.value)
    assert caught.value.location.line == first.__code__.co_firstlineno
    assert caught.value.location.filename == __file__


def test_a_refusal_inside_a_lambda_points_at_the_lambda():
    function = lambda x: np.sum(eval("x"))  # noqa: E731
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(function)(X)
    assert "a call of eval()" in str(caught.value)
    assert_points_at(caught.value, __file__, "eval", line=function.__code__.co_firstlineno)


# Bound methods: the method's function, with self passed along.


class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x, t):
        return np.sum(self.w * (x - t) ** 2)

    @classmethod
    def cube(cls, x):
        return np.sum(x**3)

    def remembers(self, x):
        self.last = x
        return np.sum(x)


def test_a_bound_method_is_differentiated_with_self_bound():
    model = Model(np.array([1.0, 2.0, 3.0]))
    t = np.zeros(3)
    assert np.allclose(overbar.grad(model.loss)(X, t), 2 * model.w * X)
    assert np.allclose(overbar.grad(model.loss, wrt="t")(X, t), -2 * model.w * X)
    dx, dt = overbar.grad(model.loss, wrt=(0, 1))(X, t)
    assert np.allclose(dx, -dt)
    value, dx = overbar.value_and_grad(model.loss)(X, t)
    assert np.isclose(value, model.loss(X, t))
    overbar.check_grad(model.loss, [X, t], wrt=(0, 1))
    assert np.allclose(overbar.grad(Model.cube)(X), 3 * X**2)
    assert "def loss_grad(self, x, t)" in overbar.grad(model.loss).source


def test_a_bound_method_counts_wrt_among_its_own_parameters():
    model = Model(np.ones(3))
    with pytest.raises(ArgumentError, match=r"'me', which is not a parameter of Model.loss"):
        overbar.grad(model.loss, wrt="me")
    with pytest.raises(ArgumentError, match=r"Model.loss has 2 positional parameters \(x, t\)"):
        overbar.grad(model.loss, wrt=2)
    # self by name: the object it is bound to (tests/test_methods.py)
    assert set(overbar.grad(model.loss, wrt="self")(X, np.zeros(3))) == {"w"}


def test_a_method_that_changes_self_is_refused_at_the_line():
    error = refusal(Model(np.ones(3)).remembers, X)
    assert "an assignment to an attribute of the argument self" in str(error)
    line = Model.remembers.__code__.co_firstlineno + 1
    assert_points_at(error, __file__, "self.last", line=line)


def test_a_gradient_of_a_gradient_needs_a_scalar_gradient():
    # grad(grad(f)) differentiates the generated adjoint (tests/test_hessians.py); of a
    # function of a vector, whose gradient is a vector, it is refused where it is called
    f = define("def f(x):\n    return np.sum(x * x * x)\n")
    second = overbar.grad(overbar.grad(f))
    assert second(1.5) == pytest.approx(9.0)
    with pytest.raises(OverbarError, match="scalar result.*overbar.jacobian"):
        second(np.ones(3))


def test_a_rule_that_takes_a_differentiated_argument_by_keyword_only_is_refused():
    # a user rule's keyword-only parameter gets no gradient: found by a colleague, where the
    # gradient for `factor` came back 0 instead of 3 with the guard off
    def scale(x, *, factor=1.0):
        return x * factor

    @overbar.adjoint(scale)
    def scale_adjoint(y, x, *, factor=1.0, y_bar):
        return y_bar * factor

    namespace = {"scale": scale}
    f = define("def f(x, k):\n    return np.sum(scale(x, factor=k))\n", namespace=namespace)
    with pytest.raises(overbar.MissingRuleError, match="keyword-only parameter"):
        overbar.grad(f, wrt=(0, 1), check=False)(np.ones(3), 3.0)
    assert overbar.grad(f, wrt=0, check=False)(np.ones(3), 3.0).tolist() == [3.0, 3.0, 3.0]
