"""Imports inside the differentiated function (``overbar/transpiler/local_imports.py``): one at
the top of the body, before any read of its names, whose names nothing else binds, is lifted
into the function's namespace; any other is refused at the user's line."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import overbar
from overbar.errors import UnsupportedSyntaxError
from tests.support import define

X = np.random.default_rng(5).uniform(0.5, 1.5, size=4)

LIFTED = {
    "from": """
        def f(x):
            from scipy.special import gammaln
            return np.sum(gammaln(x))
        """,
    "as": """
        def f(x):
            import numpy as onp
            import scipy.special as sp
            return onp.sum(sp.gammaln(x) * onp.tanh(x))
        """,
    "dotted": """
        def f(x):
            import scipy.special
            return np.sum(scipy.special.expit(x) * x)
        """,
    "a submodule from its package": """
        def f(x):
            from scipy import special
            return np.sum(special.expit(x) * x)
        """,
    "after other lines": """
        def f(x):
            y = np.sum(x ** 2)
            from math import pi
            return y * pi
        """,
    "in a helper called in a loop": """
        def g(v):
            from scipy.special import gammaln
            return gammaln(v) * v

        def f(x):
            total = 0.0
            for i in range(3):
                total = total + np.sum(g(x * (i + 1)))
            return total
        """,
}


@pytest.mark.parametrize("name", list(LIFTED))
@pytest.mark.parametrize("size", [1, 4])
def test_an_import_at_the_top_of_the_body_is_lifted(name, size):
    f = define(LIFTED[name])
    overbar.check_grad(f, [X[:size]])


def test_the_lifted_import_is_gone_from_the_adjoint_and_its_name_is_bound():
    f = define(LIFTED["from"])
    source = overbar.grad(f).source_for(X)
    assert "import" not in source
    assert "gammaln" in source
    gradient = overbar.grad(f)(X)
    np.testing.assert_allclose(gradient, scipy.special.digamma(X), rtol=1e-12)


def test_a_lifted_import_in_forward_mode():
    f = define(LIFTED["from"])
    value, tangent = overbar.jvp(f, (X,), (np.ones_like(X),))
    np.testing.assert_allclose(tangent, np.sum(scipy.special.digamma(X)), rtol=1e-12)


@pytest.mark.parametrize(
    "body, text",
    [
        (
            """
            def f(x):
                if x[0] > 0:
                    from scipy.special import gammaln
                return np.sum(gammaln(x))
            """,
            "from scipy.special import gammaln",
        ),
        (
            """
            def f(x):
                from scipy.special import gammaln
                gammaln = np.sin
                return np.sum(gammaln(x))
            """,
            "from scipy.special import gammaln",
        ),
        (
            """
            def f(x):
                y = np.sum(x)
                from math import pi
                pi = pi * y
                return pi
            """,
            "from math import pi",
        ),
        (
            """
            def f(x):
                from scipy.special import no_such_function
                return np.sum(x)
            """,
            "no_such_function",
        ),
    ],
    ids=["in a branch", "rebound", "rebound after a read", "failing"],
)
def test_any_other_import_is_refused_at_its_line(body, text):
    f = define(body)
    with pytest.raises(UnsupportedSyntaxError, match="an import inside the function") as raised:
        overbar.grad(f)(X)
    assert text in str(raised.value)
