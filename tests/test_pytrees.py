"""Containers of parameters (pytrees): a dict, list or tuple of arrays and numbers, nested, as
the argument to differentiate. The gradient has the argument's structure (kinds, keys, lengths)
and each leaf's shape; every gradient here is compared with central differences taken leaf by
leaf, element by element (and, by the conftest's guard, with the literal adjoint)."""

from __future__ import annotations

import numpy as np
import pytest

import overbar
from overbar.trees import leaves, replaced
from tests.support import define

RNG = np.random.default_rng(7)


def numeric_gradient(function, args, position, eps=1e-6):
    """Central differences of ``function`` in every element of every leaf of
    ``args[position]``, as a container of its structure."""
    argument = args[position]
    parts = {}
    for path, leaf in leaves(argument):
        base = np.array(leaf, dtype=np.float64)
        gradient = np.zeros(base.shape)
        for index in np.ndindex(base.shape):
            values = []
            for step in (eps, -eps):
                moved = base.copy()
                moved[index] += step
                moved = moved if isinstance(leaf, np.ndarray) else float(moved)
                trial = list(args)
                trial[position] = replaced(argument, path, moved)
                values.append(float(function(*trial)))
            gradient[index] = (values[0] - values[1]) / (2 * eps)
        parts[path] = gradient
    return parts


def assert_tree_gradient(function, args, gradient, position=0):
    """``gradient`` has ``args[position]``'s structure and agrees with central differences."""
    argument = args[position]
    assert _structure(gradient) == _structure(argument)
    expected = numeric_gradient(function, args, position)
    for path, leaf in leaves(gradient):
        assert np.shape(leaf) == np.shape(expected[path]), path
        np.testing.assert_allclose(leaf, expected[path], rtol=1e-5, atol=1e-7, err_msg=str(path))


def _structure(value):
    if type(value) is dict:
        return ("dict", tuple((key, _structure(part)) for key, part in value.items()))
    if type(value) in (list, tuple):
        return (type(value).__name__, tuple(_structure(part) for part in value))
    return None


MLP = """
def loss(params, x, t):
    z = params["W1"] @ x + params["b1"]
    h = np.tanh(z)
    y = params["W2"] @ h + params["b2"]
    return 0.5 * np.sum((y - t) ** 2)
"""


def mlp_params():
    return {
        "W1": RNG.standard_normal((4, 3)),
        "b1": RNG.standard_normal((4, 1)),
        "W2": RNG.standard_normal((2, 4)),
        "b2": RNG.standard_normal((2, 1)),
    }


def test_a_dict_of_parameters_gets_a_dict_of_gradients():
    loss = define(MLP, "loss")
    params, x, t = mlp_params(), RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5))
    gradient = overbar.grad(loss)(params, x, t)
    assert type(gradient) is dict and list(gradient) == ["W1", "b1", "W2", "b2"]
    assert_tree_gradient(loss, [params, x, t], gradient)


def test_the_generated_code_reads_the_dict_by_key_and_returns_a_dict():
    loss = define(MLP, "loss")
    params, x, t = mlp_params(), RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5))
    source = overbar.grad(loss).source_for(params, x, t)
    assert 'params["W1"] @ x' in source
    assert 'params_bar["W1"] = ' in source and 'params_bar = {"b2": ' in source
    assert "params_bar = structured_like(params_bar, params)" in source


def test_the_same_dict_function_agrees_with_separate_arrays():
    loss = define(MLP, "loss")
    separate = define(
        """
        def separate(W1, b1, W2, b2, x, t):
            z = W1 @ x + b1
            h = np.tanh(z)
            y = W2 @ h + b2
            return 0.5 * np.sum((y - t) ** 2)
        """,
        "separate",
    )
    params, x, t = mlp_params(), RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5))
    tree = overbar.grad(loss)(params, x, t)
    flat = overbar.grad(separate, wrt=(0, 1, 2, 3))(*params.values(), x, t)
    for key, expected in zip(params, flat, strict=True):
        np.testing.assert_allclose(tree[key], expected, rtol=1e-12)


@pytest.mark.parametrize("kind", [list, tuple])
def test_a_list_or_tuple_of_parameters_keeps_its_kind(kind):
    f = define("""
        def f(p, x):
            return np.sum(np.sin(p[0] * x)) + p[1] ** 2 * np.sum(p[2] @ x)
        """)
    p = kind([RNG.standard_normal(3), 0.7, RNG.standard_normal((2, 3))])
    x = RNG.standard_normal(3)
    gradient = overbar.grad(f)(p, x)
    assert type(gradient) is kind and len(gradient) == 3
    assert_tree_gradient(f, [p, x], gradient)


def test_a_list_of_numbers_given_to_a_numpy_function_gets_a_list_of_gradients():
    f = define("""
        def f(x):
            return np.sum(np.asarray(x) ** 3)
        """)
    for x in ([1.0, 2.0], [[1.0, 2.0], [0.5, -1.0]], (np.ones(2), np.full(2, 3.0))):
        gradient = overbar.grad(f)(x)
        assert type(gradient) is type(x)
        assert_tree_gradient(f, [x], gradient)


def test_nested_containers():
    f = define("""
        def f(params, x):
            encoder = params["encoder"]
            h = np.tanh(encoder[0]["W"] @ x + encoder[0]["b"])
            h = np.tanh(encoder[1]["W"] @ h + encoder[1]["b"])
            return np.sum(params["head"][0] * h) + params["head"][1]
        """)
    params = {
        "encoder": [
            {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(3)},
            {"W": RNG.standard_normal((3, 3)), "b": RNG.standard_normal(3)},
        ],
        "head": (RNG.standard_normal(3), 0.25),
    }
    x = RNG.standard_normal(2)
    gradient = overbar.grad(f)(params, x)
    assert type(gradient["encoder"]) is list and type(gradient["head"]) is tuple
    assert_tree_gradient(f, [params, x], gradient)


def test_a_loop_over_a_list_of_layers_unpacked():
    f = define("""
        def f(layers, x):
            for W, b in layers:
                x = np.tanh(W @ x + b)
            return np.sum(x ** 2)
        """)
    layers = [(RNG.standard_normal((3, 3)), RNG.standard_normal(3)) for _ in range(3)]
    x = RNG.standard_normal(3)
    gradient = overbar.grad(f)(layers, x)
    assert type(gradient) is list and all(type(layer) is tuple for layer in gradient)
    assert_tree_gradient(f, [layers, x], gradient)


def test_a_loop_over_a_dicts_list_of_layers_with_len():
    f = define("""
        def f(params, x):
            for layer in params["layers"]:
                x = np.tanh(layer["W"] @ x + layer["b"])
            return np.sum(x) * params["scale"] / len(params["layers"])
        """)
    params = {
        "layers": [
            {"W": RNG.standard_normal((3, 3)), "b": RNG.standard_normal(3)} for _ in range(4)
        ],
        "scale": 1.5,
    }
    x = RNG.standard_normal(3)
    gradient = overbar.grad(f)(params, x)
    assert_tree_gradient(f, [params, x], gradient)


def test_an_index_loop_over_a_list_of_parameters():
    f = define("""
        def f(ws, x):
            total = 0.0
            for i in range(len(ws)):
                total = total + np.sum(ws[i] * x) ** 2
            return total
        """)
    ws = [RNG.standard_normal(3) for _ in range(3)]
    x = RNG.standard_normal(3)
    assert_tree_gradient(f, [ws, x], overbar.grad(f)(ws, x))


def test_a_container_through_a_helper():
    module = """
    def layer(p, x):
        return np.tanh(p["W"] @ x + p["b"])

    def f(params, x):
        h = layer(params["first"], x)
        return np.sum(layer(params["second"], h))
    """
    f = define(module)
    params = {
        "first": {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(3)},
        "second": {"W": RNG.standard_normal((2, 3)), "b": RNG.standard_normal(2)},
    }
    x = RNG.standard_normal(2)
    gradient = overbar.grad(f)(params, x)
    assert_tree_gradient(f, [params, x], gradient)


def test_a_whole_container_passed_to_a_helper():
    f = define("""
        def net(params, x):
            for W in params:
                x = np.sin(W @ x)
            return x

        def f(params, x):
            return np.sum(net(params, x) ** 2)
        """)
    params = [RNG.standard_normal((2, 2)) for _ in range(3)]
    x = RNG.standard_normal(2)
    assert_tree_gradient(f, [params, x], overbar.grad(f)(params, x))


def test_leaves_no_gradient_reaches_are_zeros_of_their_shape():
    f = define("""
        def f(params, x):
            return np.sum(params["used"] * x)
        """)
    params = {"used": RNG.standard_normal(3), "unused": RNG.standard_normal((2, 2)), "n": 0.5}
    gradient = overbar.grad(f)(params, RNG.standard_normal(3))
    assert np.array_equal(gradient["unused"], np.zeros((2, 2)))
    assert gradient["n"] == 0.0


def test_a_container_whose_value_does_not_reach_the_result():
    f = define("""
        def f(params, x):
            return np.sum(x ** 2)
        """)
    gradient = overbar.grad(f)({"a": np.ones(2), "b": [np.ones(3)]}, np.ones(2))
    assert list(gradient) == ["a", "b"] and np.array_equal(gradient["b"][0], np.zeros(3))


def test_integer_leaves_get_float_gradients_as_integer_arguments_do():
    f = define("""
        def f(p):
            return p["k"] * np.sum(p["w"] ** 2)
        """)
    p = {"k": 3, "w": np.array([1.0, 2.0])}
    gradient = overbar.grad(f)(p)
    assert gradient["k"] == pytest.approx(5.0)
    np.testing.assert_allclose(gradient["w"], [6.0, 12.0])


def test_float32_leaves_keep_their_dtype():
    loss = define(MLP, "loss")
    params = {key: value.astype(np.float32) for key, value in mlp_params().items()}
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    t = RNG.standard_normal((2, 5)).astype(np.float32)
    gradient = overbar.grad(loss)(params, x, t)
    assert all(value.dtype == np.float32 for value in gradient.values())


def test_value_and_grad_and_several_arguments():
    f = define("""
        def f(params, x, scale):
            return scale * np.sum(params[0] @ x + params[1])
        """)
    params = (RNG.standard_normal((2, 3)), RNG.standard_normal(2))
    x = RNG.standard_normal(3)
    value, (params_bar, x_bar, scale_bar) = overbar.value_and_grad(f, wrt=(0, 1, 2))(
        params, x, 2.0
    )
    assert value == pytest.approx(f(params, x, 2.0))
    assert_tree_gradient(f, [params, x, 2.0], params_bar)
    np.testing.assert_allclose(x_bar, 2.0 * params[0].sum(axis=0))
    assert scale_bar == pytest.approx(f(params, x, 1.0))


def test_another_structure_compiles_anew():
    f = define("""
        def f(params):
            total = 0.0
            for w in params:
                total = total + np.sum(w ** 3)
            return total
        """)
    gradient = overbar.grad(f)
    for params in (
        [np.ones(2)],
        [np.ones(2), np.ones((2, 2))],
        [np.ones(2)],
        (np.ones(3), 2.0),
    ):
        result = gradient(params)
        assert type(result) is type(params) and len(result) == len(params)
        assert_tree_gradient(f, [params], result)


def test_a_dict_with_other_keys_compiles_anew():
    f = define("""
        def f(params):
            return np.sum(params["a"] ** 2)
        """)
    gradient = overbar.grad(f)
    first = gradient({"a": np.ones(2), "b": np.ones(2)})
    second = gradient({"b": np.ones(3), "a": np.full(2, 2.0)})
    assert list(first) == ["a", "b"] and list(second) == ["b", "a"]
    np.testing.assert_allclose(second["a"], [4.0, 4.0])
    np.testing.assert_allclose(second["b"], np.zeros(3))


def test_check_grad_checks_every_leaf():
    loss = define(MLP, "loss")
    params, x, t = mlp_params(), RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5))
    assert overbar.check_grad(loss, (params, x, t)) < 1e-6


@pytest.mark.unchecked
def test_check_grad_names_the_leaf_that_is_wrong():
    namespace = {}
    exec("def scaled(x):\n    return 3.0 * x\n", namespace)
    scaled = namespace["scaled"]

    @overbar.adjoint(scaled)
    def scaled_adjoint(y, x, y_bar):  # deliberately wrong: 3 * ȳ is right
        """y = 3x:  x̄ = 2 ȳ (wrong on purpose)"""
        x_bar = 2.0 * y_bar
        return x_bar

    f = define(
        """
        def f(params):
            return np.sum(params["a"]) + np.sum(scaled(params["b"]))
        """,
        namespace={"scaled": scaled},
    )
    with pytest.raises(overbar.GradientMismatchError, match=r"params\['b'\]"):
        overbar.check_grad(f, ({"a": np.ones(2), "b": np.ones(2)},))


@pytest.mark.unchecked
def test_the_guard_names_the_leaf_that_is_wrong(monkeypatch):
    namespace = {}
    exec("def doubled(x):\n    return 2.0 * x\n", namespace)
    doubled = namespace["doubled"]

    @overbar.adjoint(doubled)
    def doubled_adjoint(y, x, y_bar):  # deliberately wrong: 2 ȳ is right
        """y = 2x:  x̄ = ȳ (wrong on purpose)"""
        x_bar = y_bar
        return x_bar

    f = define(
        """
        def f(params):
            return np.sum(params[1] ** 2) + np.sum(doubled(params[0]))
        """,
        namespace={"doubled": doubled},
    )
    with pytest.raises(overbar.GradientCheckError, match="central differences"):
        overbar.grad(f, check=True)([np.ones(3), np.ones(2)])


# refusals


def test_a_key_that_is_a_value_reads_that_entry():
    f = define("""
        def f(params, name, other):
            return np.sum(params[name] ** 2) + 3.0 * np.sum(params[other])
        """)
    params = {"a": RNG.standard_normal(2), "b": RNG.standard_normal(3), "c": 2.0}
    for name, other in (("a", "b"), ("b", "b"), ("c", "a")):
        gradient = overbar.grad(f)(params, name, other)
        assert_tree_gradient(f, [params, name, other], gradient)


def test_a_loop_over_a_list_of_keys():
    f = define("""
        KEYS = ("W", "b")

        def f(params, x):
            total = 0.0
            for key in KEYS:
                total = total + np.sum(params[key] * x)
            return total
        """)
    params = {"W": RNG.standard_normal(3), "b": RNG.standard_normal(3), "unused": 1.0}
    x = RNG.standard_normal(3)
    assert_tree_gradient(f, [params, x], overbar.grad(f)(params, x))


@pytest.mark.parametrize(
    "body",
    [
        """
        def f(params, x):
            out = x
            for name in ["layer1", "layer2"]:
                out = np.tanh(out @ params[name]["W"] + params[name]["b"])
            return np.sum(out)
        """,
        """
        def f(params, x):
            name = "layer1"
            layer = params[name]
            return np.sum(np.tanh(x @ layer["W"] + layer["b"]))
        """,
    ],
)
def test_an_entry_read_by_a_key_not_known_now_is_a_dict_when_every_entry_is(body):
    """``params[name]["W"]`` with ``name`` a loop variable: the entry's shape is what every
    entry has (a dict of W and b), so its adjoint is a dict (it was ``index_bar`` of a dict,
    a crash, and the entry's value was saved as a shape only)."""
    f = define(body)
    params = {
        "layer1": {"W": RNG.standard_normal((3, 3)), "b": RNG.standard_normal(3)},
        "layer2": {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)},
    }
    x = RNG.standard_normal((4, 3))
    assert_tree_gradient(f, [params, x], overbar.grad(f)(params, x))


def test_an_entry_of_entries_of_different_kinds_read_by_a_literal_string_is_a_dict():
    """The entries differ (a dict with b, one without, a number), so nothing is known of
    ``params[name]``; ``layer["W"]`` reads it by a literal string, which only a dict takes,
    so ``layer``'s adjoint is a dict, added as dicts (not with ``+``)."""
    f = define("""
        def f(params, x):
            out = x
            for name in ["layer1", "layer2"]:
                layer = params[name]
                out = out @ layer["W"]
                if name == "layer1":
                    out = np.tanh(out + layer["b"])
            return params["scale"] * np.sum(out ** 2)
        """)
    params = {
        "layer1": {"W": RNG.standard_normal((3, 3)), "b": RNG.standard_normal(3)},
        "layer2": {"W": RNG.standard_normal((3, 2))},
        "scale": 2.0,
    }
    x = RNG.standard_normal((4, 3))
    assert_tree_gradient(f, [params, x], overbar.grad(f)(params, x))


def test_a_counter_loop_over_a_dict_with_integer_keys_reads_by_key():
    f = define("""
        def f(params):
            total = 0.0
            for i in range(len(params)):
                total = total + (i + 1.0) * np.sum(params[i] ** 2)
            return total
        """)
    params = {1: RNG.standard_normal(2), 0: RNG.standard_normal(2)}
    gradient = overbar.grad(f)(params)
    np.testing.assert_allclose(gradient[0], 2.0 * params[0])
    np.testing.assert_allclose(gradient[1], 4.0 * params[1])


def test_a_loop_over_a_dict_walks_its_keys():
    f = define("""
        def f(params):
            total = 0.0
            for key in params:
                total = total + (key + 1.0) * np.sum(params[key] ** 2)
            return total
        """)
    params = {1: RNG.standard_normal(2), 0: RNG.standard_normal(3)}  # keys not positions
    gradient = overbar.grad(f)(params)
    np.testing.assert_allclose(gradient[1], 4.0 * params[1])
    np.testing.assert_allclose(gradient[0], 2.0 * params[0])


def test_keys_values_items_sorted_and_get():
    f = define("""
        def f(params, x):
            total = 0.0
            for key, value in params.items():
                total = total + np.sum(np.sin(value * x)) * len(key)
            for value in params.values():
                total = total + np.sum(value ** 2)
            for key in sorted(params.keys()):
                total = total * 0.5 + np.sum(params[key])
            for key in list(params):
                total = total + np.sum(params[key] * x)
            return total + params.get("bb", 0.0) @ x + params.get("zz", 2.0)
        """)
    params = {"bb": RNG.standard_normal(3), "a": RNG.standard_normal(3)}
    x = RNG.standard_normal(3)
    gradient = overbar.grad(f, wrt=(0, 1))(params, x)
    assert_tree_gradient(f, [params, x], gradient[0])
    numeric_x = numeric_gradient(f, [params, x], 1)[()]
    np.testing.assert_allclose(gradient[1], numeric_x, rtol=1e-5, atol=1e-7)


def test_a_loop_over_a_dict_that_is_not_differentiated():
    # Before the dict's keys were part of the adjoint's specialisation, the loop read
    # cfg[0], cfg[1] (its values) for its keys: a wrong gradient, caught only by the guard.
    f = define("""
        def f(x, cfg):
            total = 0.0
            for k in cfg:
                total = total + k * np.sum(x) * cfg[k]
            return total
        """)
    gradient = overbar.grad(f, check=False)
    x = RNG.standard_normal(2)
    for cfg in ({0: 10.0, 1: 20.0}, {5: 1.0}, {0: 10.0, 1: 20.0}, {2: 1.0, 3: 1.0}):
        expected = sum(k * v for k, v in cfg.items())
        np.testing.assert_allclose(gradient(x, cfg), np.full(2, expected))


def test_a_loop_over_a_global_dict_is_refused():
    f = define("""
        CONFIG = {0: 1.0, 1: 2.0}

        def f(x):
            total = 0.0
            for k in CONFIG:
                total = total + k * np.sum(x)
            return total
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match="the global dict CONFIG"):
        overbar.grad(f)(np.ones(2))


def test_get_with_a_key_that_is_not_a_literal_is_refused():
    f = define("""
        def f(params, name):
            return np.sum(params.get(name, 0.0))
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match="literal key"):
        overbar.grad(f)({"a": np.ones(2)}, "a")


def test_unpacking_a_dict_is_refused():
    f = define("""
        def f(params):
            a, b = params
            return np.sum(a)
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match="unpacking the dict"):
        overbar.grad(f)({0: np.ones(2), 1: np.ones(2)})


def test_a_method_of_the_dict_other_than_keys_values_items_get_is_refused():
    f = define("""
        def f(params):
            params_copy = params.copy()
            return np.sum(params_copy["a"])
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match=r"params.copy\(\) on a dict"):
        overbar.grad(f)({"a": np.ones(2)})


@pytest.mark.parametrize(
    "body, message",
    [
        ('params["W"] = params["W"] * 2.0', "a write into the argument params"),
        ("params[0] = params[0] * 2.0", "a write into the argument params"),
        ("params.append(params[0])", "appending to the argument params"),
    ],
)
def test_mutating_the_container_is_refused(body, message):
    f = define(f"""
        def f(params):
            {body}
            return np.sum(params[0] if isinstance(params, list) else params["W"])
        """)
    argument = [np.ones(2)] if "[0]" in body else {"W": np.ones(2)}
    with pytest.raises(overbar.UnsupportedSyntaxError, match=message):
        overbar.grad(f)(argument)


@pytest.mark.parametrize(
    "leaf, described", [("relu", "a str"), (None, "a NoneType"), (True, "a bool")]
)
def test_a_leaf_that_is_not_a_number_is_refused_with_its_path(leaf, described):
    f = define("""
        def f(params):
            return np.sum(params["W"])
        """)
    with pytest.raises(overbar.ArgumentError, match=r"params\['act'\]") as info:
        overbar.grad(f)({"W": np.ones(2), "act": leaf})
    assert described in str(info.value)


# the adjoint of a dict written entry by entry (overbar/transpiler/dict_writes.py)


def test_the_mlps_dict_adjoint_is_written_entry_by_entry():
    loss = define(MLP, "loss")
    params, x, t = mlp_params(), RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5))
    source = overbar.grad(loss).source_for(params, x, t)
    assert 'params_bar = {"b2": ' in source
    assert 'params_bar["W2"] = y_bar @ h.T' in source
    assert 'params_bar["W1"] = ' in source and 'params_bar["b1"] = ' in source
    assert "add_elementwise" not in source


def test_a_key_read_twice_adds_into_its_entry():
    f = define("""
        def f(params, x):
            a = np.sum(np.sin(params["W"] * x))
            b = np.sum(params["W"] ** 2) * params["c"]
            return a + b
        """)
    params, x = {"W": RNG.standard_normal(3), "c": 0.3}, RNG.standard_normal(3)
    gradient = overbar.grad(f)
    source = gradient.source_for(params, x)
    assert 'params_bar["W"] = params_bar["W"] + ' in source
    assert_tree_gradient(f, [params, x], gradient(params, x))


def test_the_literal_adjoint_adds_dicts():
    loss = define(MLP, "loss")
    params, x, t = mlp_params(), RNG.standard_normal((3, 5)), RNG.standard_normal((2, 5))
    source = overbar.grad(loss, optimise=False).source_for(params, x, t)
    assert "add_elementwise(params_bar, " in source and 'params_bar["' not in source


def test_a_dict_adjoint_built_in_a_loop_is_added_as_dicts():
    f = define("""
        def f(params, x):
            for layer in params["layers"]:
                x = np.tanh(layer["W"] @ x + layer["b"])
            return np.sum(x) * params["scale"]
        """)
    params = {
        "layers": [{"W": RNG.standard_normal((2, 2)), "b": RNG.standard_normal(2)}] * 2,
        "scale": 2.0,
    }
    x = RNG.standard_normal(2)
    gradient = overbar.grad(f)
    source = gradient.source_for(params, x)
    assert "layer_bar = add_elementwise(layer_bar, " in source  # in the loop: as it was
    assert 'params_bar["layers"] = ' in source  # at the top level: an entry
    assert_tree_gradient(f, [params, x], gradient(params, x))


def test_a_dict_adjoint_added_in_a_branch_is_added_as_dicts():
    f = define("""
        def f(params, x):
            y = np.sum(params["a"] * x)
            if y > 0:
                y = y * np.sum(params["b"])
            return y + np.sum(params["a"] ** 2)
        """)
    x = RNG.standard_normal(3)
    gradient = overbar.grad(f)
    for sign in (1.0, -1.0):  # both branches
        params = {"a": sign * x, "b": RNG.standard_normal(2)}
        assert "add_elementwise(params_bar, " in gradient.source_for(params, x)
        assert_tree_gradient(f, [params, x], gradient(params, x))


def test_an_entry_that_is_a_container_is_not_added_with_plus():
    f = define("""
        def f(params, x):
            a = np.sum(params["enc"]["W"] * x)
            b = np.sum(params["enc"]["b"] ** 2)
            return a * b
        """)
    params = {"enc": {"W": RNG.standard_normal(3), "b": RNG.standard_normal(2)}}
    x = RNG.standard_normal(3)
    gradient = overbar.grad(f)
    source = gradient.source_for(params, x)
    assert 'add_elementwise(params_bar, {"enc": ' in source
    assert_tree_gradient(f, [params, x], gradient(params, x))


@pytest.mark.parametrize(
    "making",
    [
        "d = dict(zip([0, 1], [10.0, 20.0]))",
        "d = make()",
    ],
)
def test_a_loop_over_a_dict_made_in_the_function_is_refused(making):
    # Walked by position, it would read d[0], d[1] (values) for its keys.
    f = define(f"""
        def make():
            return dict(zip([0, 1], [10.0, 20.0]))

        def f(x):
            {making}
            total = 0.0
            for k in d:
                total = total + k * np.sum(x)
            return total
        """)
    with pytest.raises(overbar.UnsupportedSyntaxError, match="keys are known only when it runs"):
        overbar.grad(f)(np.ones(2))


def test_a_loop_over_the_list_of_a_dicts_keys_made_in_the_function():
    f = define("""
        def f(x):
            d = dict(zip([0, 1], [10.0, 20.0]))
            total = 0.0
            for k in list(d):
                total = total + (k + d[k]) * np.sum(x)
            return total
        """)
    np.testing.assert_allclose(overbar.grad(f)(np.ones(2)), [31.0, 31.0])


def test_deeply_nested_dicts():
    f = define("""
        def f(p):
            leaf = p["a"]["b"]["c"]["d"]["e"]
            return np.sum(leaf["f"] ** 2) + np.sum(p["a"]["b"]["c"]["d"]["e"]["g"])
        """)
    p = {"a": {"b": {"c": {"d": {"e": {"f": RNG.standard_normal(2), "g": np.ones(3)}}}}}}
    assert_tree_gradient(f, [p], overbar.grad(f)(p))


def test_empty_containers():
    f = define("""
        def f(p, x):
            return np.sum(x ** 2)
        """)
    assert overbar.grad(f)({}, np.ones(2)) == {}
    assert overbar.grad(f)([], np.ones(2)) == []
    gradient = overbar.grad(f)({"a": [], "b": np.ones(2)}, np.ones(2))
    assert gradient["a"] == [] and np.array_equal(gradient["b"], np.zeros(2))
