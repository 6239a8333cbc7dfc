"""Every refused construct: an OverbarError that names it and points at the user's line."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.errors import (
    ArgumentError,
    MissingRuleError,
    NonScalarOutputError,
    OverbarError,
    UnsupportedSyntaxError,
)
from tests.support import define

REFUSED = [
    ("for v in x:\n        break", "a break in a loop over anything but range", "for v in x:"),
    (
        "for i in range(3):\n        x = x * 2\n    else:\n        x = x + 1",
        "an else clause",
        "x = x + 1",
    ),
    ("for v in x:\n        return v", "a return in a loop over anything but range", "for v in x:"),
    ("for i in range(3):\n        i = i + 1", "an assignment to the loop variable i", "i = i + 1"),
    ("for i, j in zip(x, x):\n        j = i", "an assignment to the loop variable j", "j = i"),
    ("if x.sum() > 0:\n        return x.sum()\n        y = 1", "code after a return", "y = 1"),
    ("with open('f') as h:\n        pass", "a with statement", "with open"),
    ("try:\n        x = x * 2\n    except ValueError:\n        pass", "a try statement", "try:"),
    ("raise ValueError('no')", "a raise statement", "raise ValueError"),
    (
        "if x.sum() > 0:\n        def inner(y):\n            return y\n        x = inner(x)",
        "a nested function",
        "def inner",
    ),  # one at the top of the body, only called, is lifted: test_nested_functions
    ("def inner(y):\n        return y\n    g = inner", "other than a call", "inner"),
    ("class C:\n        pass", "a class definition", "class C"),
    (
        "if x.sum() > 0:\n        import math",
        "an import inside the function",
        "import math",
    ),  # one at the top of the body is lifted: test_local_imports
    ("global G\n    G = x", "a global statement", "global G"),
    ("del x", "a del statement", "del x"),
    ("f = lambda y: y\n    x = f(x) * f", "a lambda here", "lambda y: y"),
    ("s = {v for v in x}", "a set comprehension", "{v for v in x}"),
    ("d = {0: v for v in x}", "a dict comprehension", "{0: v for v in x}"),
    ("d = {str(1): x}", "a dict display with a key computed when it runs", "str(1)"),
    ("d = {'a': x, **{}}", "**unpacking in a dict display", "{}"),
    ("y = x + (x := x * 2)", "an assignment expression (:=) here", "x := x * 2"),
    ("y = [(z := v) * z for v in x]", "an assignment expression (:=) here", "z := v"),
    ("y = x if x[0] > 0 else (z := x * 2)", "an assignment expression (:=) here", "z := x * 2"),
    ("y = x[0] > 0 and (z := x[1]) > 0", "an assignment expression (:=) here", "z := x[1]"),
    ("z = 1.0\n    z += (z := x[0])", "an assignment expression (:=) here", "z := x[0]"),
    ("y = np.concatenate([*x])", "a starred expression", "*x"),
    ("x[0] = 1.0", "a write into the argument x", "def f(x):"),
    ("y = x\n    y[0] = 1.0", "a write into y, which may share its memory", "y = x"),
    ("y = x[1:]\n    y[0] = 1.0", "a write into y, which may share its memory", "y = x[1:]"),
    (
        "y = x * 1.0\n    r = y[0:2]\n    y[0] = 1.0\n    x = r",
        "a read of y that may be a view",
        "y",
    ),
    (
        "y = x * 1.0\n    for i in range(2):\n        z = y.T\n        y[i] = 1.0",
        "a read of y that may be a view",
        "y",
    ),
    (
        "y = x * 1.0\n    x.sort()[0] = 1",
        "a write into part of an array read from an expression",
        "x.sort()[0]",
    ),
    ("x.attr = 1.0", "an assignment to an attribute of the argument x", "x.attr"),
    ("y = x * 2\n    y.attr = 1.0", "an attribute assignment", "y.attr"),
    ("y = x.copy()\n    y.sort()", "an expression statement", "y.sort()"),
    ("y = x.copy()\n    z = y.fill(0.0)", "fill(), which changes an array", "y.fill(0.0)"),
    ("np.add.at(x, 0, 1.0)", "a write into the argument x", "def f(x):"),
    ("y = x.copy()\n    np.multiply.at(y, 0, 2.0)", "an expression statement", "np.multiply.at("),
    ("y = np.exp(x, out=x)", "an out= argument", "out=x"),
    (
        "o = {'axis': 0} if np.sum(x) > 0 else {}\n    y = np.sum(x, **o)",
        "**keyword unpacking of a dict whose keys are not known",
        "**o",
    ),
    ("y = np.concatenate([x, *x])", "a starred expression of a length not known", "*x"),
    ("x += 1.0", "an augmented assignment to the argument x", "x += 1.0"),
    ("y = x\n    y += 1.0", "an augmented assignment to y", "y += 1.0"),
    ("y = x * 2\n    z = np.reshape(y, -1)\n    y += 1.0", "an augmented assignment", "y += 1.0"),
    (
        "y = x * 2\n    for i in range(2):\n        z = np.reshape(y, -1)\n        y += 1.0",
        "an augmented assignment",
        "y += 1.0",
    ),
    (
        "y = x * 2\n    if x.sum() > 0:\n        y = x\n    y += 1.0",
        "an augmented assignment",
        "y += 1.0",
    ),
    (
        "a = b = np.zeros(3)\n    a[0] = x[0]",
        "a write into a, which may share its memory",
        "a = b = np.zeros(3)",
    ),
    ("g = np.exp\n    y = g(x)", "a call of the local variable g", "g"),
    ("a, *rest = x", "a starred assignment target", "*rest"),
    ('s = f"{x}"', "an f-string", 'f"{x}"'),
    (
        "t = (x, x)\n    if np.sum(x) > 0:\n        t = np.tanh(x)\n    x = t[0]",
        "a tuple or list that np.tanh returns",
        "np.tanh(x)",
    ),
    ("a, x.b = x", "this element of an unpacking", "x.b"),
    ("fs = [np.sin]\n    y = fs[0](x)", "a call of a computed function", "fs[0]"),
    ("f = lambda z, k=1.0: z * k\n    y = f(x)", "a lambda here", "lambda z, k=1.0"),
    ("f = lambda a, b: a * b\n    y = f(x)", "this call of the lambda f", "f(x)"),
    ("for i, v in enumerate(x, 1):\n        y = v", "enumerate with a start", "enumerate"),
    ("x.append(1.0)", "appending to the argument x", "def f(x):"),
    ("xs = []\n    ys = xs\n    xs.append(x)", "this use of the list xs", "xs"),
    ("xs = list(x)\n    xs.append(x)", "bound to something not a list display", "xs = list(x)"),
    ("xs = []\n    xs.append(x)\n    y = xs.copy()", "this use of the list xs", "xs"),
    ("y = z * 2\n    z = x", "a use of z before it is assigned", "z"),
]


@pytest.mark.parametrize("body, what, spot", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_construct_names_it_and_points_at_the_line(body, what, spot):
    f = define(f"def f(x):\n    {body}\n    return np.sum(x)\n")
    with pytest.raises(UnsupportedSyntaxError) as caught:
        overbar.grad(f)(np.ones(3))
    message = str(caught.value)
    assert what in message
    assert "overbar_test_module" in message  # the user's file
    lines = message.splitlines()
    source_line, caret_line = lines[1], lines[2]
    assert spot in source_line
    start = caret_line.index("^")
    assert source_line[start:].startswith(spot[:1])


def test_refused_function_shapes():
    no_return = define("def f(x):\n    y = x * 2\n")
    with pytest.raises(UnsupportedSyntaxError, match="without a final return"):
        overbar.grad(no_return)(1.0)
    early = define("def f(x):\n    return x\n    y = 1\n")
    with pytest.raises(UnsupportedSyntaxError, match="code after a return"):
        overbar.grad(early)(1.0)
    keywords = define("def f(**xs):\n    return xs['a']\n")  # more in test_varargs
    with pytest.raises(ArgumentError, match=r"wrt names \*\*xs of f: name the keywords"):
        overbar.grad(keywords, wrt="xs")  # refused at once


def test_missing_numpy_rule_names_the_function_and_how_to_register():
    f = define("def f(x):\n    return np.sum(np.unwrap(x))\n")
    with pytest.raises(MissingRuleError) as caught:
        overbar.grad(f)(np.ones(3))
    message = str(caught.value)
    assert "np.unwrap" in message
    assert "@overbar.adjoint" in message
    assert "np.unwrap(x)" in message.splitlines()[1]


def test_helper_problems_are_refused_at_transformation_time():
    f = define("""
        def helper(v):
            with open("f") as handle:
                pass
            return v

        def f(x):
            return np.sum(helper(x))
        """)
    with pytest.raises(UnsupportedSyntaxError, match="a with statement") as caught:
        _ = overbar.grad(f).source
    assert "with open" in str(caught.value).splitlines()[1]
    generator = define("""
        def helper(v):
            yield v

        def f(x):
            return np.sum(helper(x))
        """)
    with pytest.raises(UnsupportedSyntaxError, match="a generator"):
        _ = overbar.grad(generator).source


def test_user_function_on_constants_only_is_allowed():
    f = define("""
        def weights(n):
            return np.arange(n) + 1.0

        def f(x):
            w = weights(3)
            return np.sum(w * x)
        """)
    assert np.allclose(overbar.grad(f)(np.ones(3)), [1.0, 2.0, 3.0])


def test_unknown_array_method_is_refused():
    f = define("def f(x):\n    return np.sum(x.byteswap())\n")
    with pytest.raises(MissingRuleError, match=r"method \.byteswap\(\)"):
        overbar.grad(f)(np.ones(3))


def test_unsupported_keyword_of_a_known_function_is_refused():
    f = define("def f(x):\n    return np.sum(x, dtype=np.float32)\n")
    with pytest.raises(MissingRuleError, match="dtype"):
        overbar.grad(f)(np.ones(3))


def test_a_call_no_conditioned_rule_takes_is_refused():
    """A primal whose only rule is restricted by ``where`` (as np.linalg.norm's was to
    ord=None) refuses other calls, naming the condition."""
    source = (
        "def scaled(x, k=1.0):\n    return k * x\n\n\n"
        "@overbar.adjoint(scaled, where={'k': 1.0})\n"
        "def scaled_bar(y, x, k=1.0, *, y_bar):\n    return y_bar\n\n\n"
        "def f(x):\n    return np.sum(scaled(x, k=2.0))\n"
    )
    f = define(source)
    with pytest.raises(MissingRuleError, match="k=1.0"):
        overbar.grad(f)(np.ones(3))


def test_undefined_function_is_refused():
    f = define("def f(x):\n    return np.sum(no_such_function(x))\n")
    with pytest.raises(MissingRuleError, match="no_such_function is not defined"):
        overbar.grad(f)(np.ones(3))


def test_writes_that_would_lose_information_are_refused_when_run():
    int_array = define(
        "def f(x):\n    y = np.zeros(3, dtype=int)\n    y[0] = x\n    return np.sum(y * 1.0)\n"
    )
    with pytest.raises(OverbarError, match="dtype int"):
        overbar.grad(int_array)(0.5)
    repeated = define(
        "def f(x):\n    y = np.zeros(3)\n    y[np.array([0, 0])] = x\n    return np.sum(y)\n"
    )
    with pytest.raises(OverbarError, match="repeats an index"):
        overbar.grad(repeated)(np.ones(2))


def test_unpacking_an_inactive_value_is_fine():
    f = define("def f(x):\n    n, m = x.shape\n    return np.sum(x) * n / m\n")
    assert np.allclose(overbar.grad(f)(np.ones((2, 4))), 0.5)


def test_non_scalar_result_is_refused_with_advice():
    f = define("def f(x):\n    return x * 2\n")
    with pytest.raises(NonScalarOutputError) as caught:
        overbar.grad(f)(np.ones(3))
    message = str(caught.value)
    assert "scalar" in message and "shape (3,)" in message and "np.sum" in message
    assert "return x * 2" in message


def test_tuple_result_is_refused():
    f = define("def f(x):\n    return x, x\n")
    with pytest.raises(NonScalarOutputError, match="tuple"):
        overbar.grad(f)(1.0)


@pytest.mark.parametrize(
    "body",
    [
        "return np.allclose(x, x * 3.0 / 3.0)",  # a predicate's bool
        "return np.sum(x) > 1.0",  # a comparison: shapes say a scalar, so no seed is checked
        "flag = np.any(x > 2.0)\n    same = flag\n    return same",  # through a copy
        "return x[0] > 0.0 and x[-1] > 0.0",
    ],
)
@pytest.mark.parametrize("x", [np.array([1.0, 2.0, 3.0]), np.array([1.5])])  # reverse, forward
def test_truth_valued_result_is_refused_as_a_type_error(body, x):
    f = define(f"def f(x):\n    {body}\n")
    with pytest.raises(NonScalarOutputError, match="truth value") as caught:
        overbar.grad(f)(x)
    assert isinstance(caught.value, TypeError)  # as autograd's and JAX's grad raise


def test_a_number_made_of_a_comparison_is_differentiated():
    f = define("def f(x):\n    above = np.sum(x) > 1.0\n    return above * np.sum(x ** 2)\n")
    assert np.allclose(overbar.grad(f)(np.array([1.0, 2.0])), [2.0, 4.0])
    assert np.allclose(overbar.grad(f)(np.array([0.25])), [0.0])


def test_non_numeric_argument_is_refused():
    f = define("def f(x):\n    return np.sum(x)\n")
    with pytest.raises(ArgumentError, match=r"x\[1\], which is a str"):
        overbar.grad(f)([1.0, "2.0"])  # a list of numbers is a container of parameters
    with pytest.raises(ArgumentError, match="bool"):
        overbar.grad(f)(True)
    with pytest.raises(ArgumentError, match="complex"):
        overbar.grad(f)(np.ones(2, dtype=complex))


def test_builtin_is_refused():
    with pytest.raises(ArgumentError, match="not <ufunc 'sin'>"):
        overbar.grad(np.sin)


def test_higher_order_is_no_longer_refused():
    f = define("def f(x):\n    return x * x * x\n")
    assert overbar.grad(overbar.grad(f))(1.5) == pytest.approx(9.0)


def test_errors_are_overbar_errors():
    for error in (UnsupportedSyntaxError, MissingRuleError, NonScalarOutputError, ArgumentError):
        assert issubclass(error, OverbarError)


@pytest.mark.parametrize(
    "value, kind",
    [("abc", "a str"), (np.ones(3, dtype=complex), "an array of dtype complex128")],
)
def test_an_argument_that_is_not_real_numbers_is_refused_by_name(value, kind):
    f = define("def f(x):\n    return np.sum(x)\n")
    with pytest.raises(ArgumentError, match=f"with respect to x, which is {kind}"):
        overbar.grad(f)(value)
