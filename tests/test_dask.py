"""Dask arrays through the same generated adjoint as NumPy's, lazily, on Dask's schedulers.

The gradient of a function of chunked Dask arrays is a Dask array (where it depends on one)
whose value is the NumPy gradient; the call builds the graph and runs no task, ``.compute()``
runs it once. Skipped as a whole where dask is not installed (``pip install ".[dask]"``).
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

import overbar
from overbar.runtime.helpers_arrays import summed_at_origins
from overbar.runtime.helpers_linalg import cross_bars, kron_bars, multi_dot_bars
from tests.array_library_cases import CASES, RULE_EXPRESSIONS, Case, regression
from tests.support import define

da = pytest.importorskip("dask.array", reason="dask is not installed: pip install '.[dask]'")
dask = pytest.importorskip("dask")


def from_numpy(value):
    """A NumPy array as a Dask array in about three chunks along each axis (numbers as they
    are)."""
    if not isinstance(value, np.ndarray):
        return value
    return da.from_array(value, chunks=tuple(max(1, -(-size // 3)) for size in value.shape))


def _held(case: Case) -> list:
    return [
        from_numpy(value) if position in case.held else value
        for position, value in enumerate(case.arguments)
    ]


def _forbidden(*args, **kwargs):
    raise AssertionError("a task ran during the gradient call")


_MADE: dict[int, int] = {}
_MADE_LOCK = threading.Lock()
_TAGS = itertools.count()


def _count_block(block, tag):
    with _MADE_LOCK:
        _MADE[tag] += 1
    return block


class Blocks:
    """Dask arrays whose blocks count how often they are made (a task each): in this process,
    whichever scheduler runs them (threads, or a cluster of threads in it; the function is a
    module's, so a cluster's pickling of the graph refers to it by name)."""

    def __init__(self):
        with _MADE_LOCK:
            self.tag = next(_TAGS)
            _MADE[self.tag] = 0

    @property
    def made(self) -> int:
        with _MADE_LOCK:
            return _MADE[self.tag]

    def wrap(self, value):
        """``value`` as a Dask array whose blocks are counted (numbers as they are)."""
        if not isinstance(value, np.ndarray):
            return value
        # meta given: map_blocks would otherwise call the function on an empty block to find it
        return from_numpy(value).map_blocks(
            _count_block, tag=self.tag, meta=np.empty((0,) * value.ndim)
        )


@pytest.fixture(scope="module")
def client():
    """A small cluster in this process (threads: process start-up is slow on this machine)."""
    distributed = pytest.importorskip("distributed", reason="distributed is not installed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_gradient_on_the_cluster_equals_numpys(make, client):
    case = make()
    function = case.function()
    expected = overbar.grad(function, wrt=case.wrt)(*case.arguments)  # the guard checks it
    # The guard, on a Dask call, computes the function at many points: a task graph each,
    # slow on a cluster; test_the_differentiated_argument_may_be_a_dask_array runs it.
    lazy = overbar.grad(function, wrt=case.wrt, check=False)(*_held(case))
    (computed,) = client.compute([lazy], sync=True)
    for got, want in zip(computed, expected, strict=True):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for position, got in zip(case.wrt, lazy, strict=True):
        if position in case.held:  # a Dask argument's gradient is a Dask array
            assert isinstance(got, da.Array), position


@pytest.mark.parametrize("optimise", [True, False], ids=["optimised", "literal"])
@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_the_call_runs_no_task_and_compute_runs_the_graph_once(make, optimise):
    """The optimised adjoint, and the literal one, whose helpers (unbroadcast, expand_reduced,
    matmul's bars, ...) see the Dask arrays the optimised one indexes or sums directly."""
    case = make()
    function = case.function()
    gradient = overbar.grad(function, wrt=case.wrt, check=False, optimise=optimise)
    expected = gradient(*case.arguments)
    blocks = Blocks()
    arguments = [
        blocks.wrap(value) if position in case.held else value
        for position, value in enumerate(case.arguments)
    ]
    with dask.config.set(scheduler=_forbidden):
        lazy = gradient(*arguments)
    assert blocks.made == 0
    (computed,) = dask.compute(lazy, scheduler="threads")
    assert blocks.made == sum(arguments[position].npartitions for position in case.held)
    for got, want in zip(computed, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_the_differentiated_argument_may_be_a_dask_array():
    case = regression()
    w, X, y = case.arguments
    function = case.function()
    gradient = overbar.grad(function, wrt="w")
    with dask.config.set(scheduler=_forbidden):
        lazy = overbar.grad(function, wrt="w", check=False)(from_numpy(w), X, from_numpy(y))
    assert isinstance(lazy, da.Array) and lazy.shape == w.shape
    np.testing.assert_allclose(lazy.compute(), gradient(w, X, y), rtol=1e-12)
    # the guard (on in the tests) checks a Dask argument against differences, too
    np.testing.assert_allclose(
        gradient(from_numpy(w), from_numpy(X), y).compute(), gradient(w, X, y), rtol=1e-12
    )


def test_value_and_grad_are_both_lazy():
    case = regression()
    function = case.function()
    w, X, y = case.arguments
    with dask.config.set(scheduler=_forbidden):
        value, lazy = overbar.value_and_grad(function, wrt="w", check=False)(
            w, from_numpy(X), from_numpy(y)
        )
    assert isinstance(value, da.Array) and isinstance(lazy, da.Array)
    value, computed = dask.compute(value, lazy)
    assert value == pytest.approx(function(w, X, y), rel=1e-12)
    np.testing.assert_allclose(computed, overbar.grad(function, wrt="w")(w, X, y), rtol=1e-12)


def test_float32_in_float32_out():
    case = regression()
    function = case.function()
    w, X, y = (value.astype(np.float32) for value in case.arguments)
    lazy = overbar.grad(function, wrt="w")(from_numpy(w), from_numpy(X), from_numpy(y))
    assert lazy.dtype == np.float32
    np.testing.assert_allclose(lazy.compute(), overbar.grad(function, wrt="w")(w, X, y), rtol=1e-5)


def test_the_adjoint_is_the_one_numpy_arrays_of_those_shapes_run():
    case = regression()
    gradient = overbar.grad(case.function(), wrt="w")
    assert gradient.source_for(*_held(case)) == gradient.source_for(*case.arguments)


def test_a_branch_on_a_lazy_value_computes_it_where_python_needs_a_bool():
    """``if np.mean(y) > 0.5`` needs a bool: Dask computes the mean there (Python calls
    ``bool()`` of the lazy comparison), in the call; the rest stays lazy."""
    f = define(
        """
        def loss(w, X, y):
            r = X @ w - y
            if np.mean(y) > 0.5:
                return np.sum(r * r)
            return np.sum(np.abs(r))
        """,
        "loss",
    )
    w, X, y = regression().arguments
    gradient = overbar.grad(f, wrt="w", check=False)
    blocks = Blocks()
    X_blocks, y_blocks = blocks.wrap(X), blocks.wrap(y)
    lazy = gradient(w, X_blocks, y_blocks)
    # The condition is computed where Python needs its bool: y's blocks, in the forward
    # sweep's branch and again in the reverse sweep's, which branches on the same lazy value.
    assert blocks.made == 2 * y_blocks.npartitions
    made = blocks.made
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), overbar.grad(f, wrt="w")(w, X, y), rtol=1e-12)
    assert blocks.made == made + X_blocks.npartitions + y_blocks.npartitions


def test_a_condition_made_a_bool_by_the_user_is_computed_once():
    f = define(
        """
        def loss(w, X, y):
            r = X @ w - y
            if bool(np.mean(y) > 0.5):
                return np.sum(r * r)
            return np.sum(np.abs(r))
        """,
        "loss",
    )
    w, X, y = regression().arguments
    blocks = Blocks()
    y_blocks = blocks.wrap(y)
    lazy = overbar.grad(f, wrt="w", check=False)(w, blocks.wrap(X), y_blocks)
    assert blocks.made == y_blocks.npartitions
    np.testing.assert_allclose(lazy.compute(), overbar.grad(f, wrt="w")(w, X, y), rtol=1e-12)


def test_a_loop_bound_on_a_lazy_value_computes_it_each_trip():
    """A while loop's condition on a Dask value is computed at every trip (Python needs its
    bool); the trip count is then a plain number the reverse sweep replays."""
    f = define(
        """
        def loss(w, X):
            h = X @ w
            while np.max(np.abs(h)) > 0.5:
                h = 0.5 * h
            return np.sum(h * h)
        """,
        "loss",
    )
    rng = np.random.default_rng(3)
    w, X = rng.standard_normal(3), rng.standard_normal((20, 3))
    gradient = overbar.grad(f, wrt="w", check=False)
    blocks = Blocks()
    X_blocks = blocks.wrap(X)
    lazy = gradient(w, X_blocks)
    trips = 0
    h = X @ w
    while np.max(np.abs(h)) > 0.5:
        h, trips = 0.5 * h, trips + 1
    # X's blocks for each test of the condition (the reverse sweep replays the trip count)
    assert trips > 1 and blocks.made == X_blocks.npartitions * (trips + 1)
    np.testing.assert_allclose(lazy.compute(), overbar.grad(f, wrt="w")(w, X), rtol=1e-12)


def test_unknown_chunk_sizes_are_refused():
    w, X, y = regression().arguments
    masked = from_numpy(X)[from_numpy(y) > 0.5]
    assert np.isnan(masked.shape[0])
    gradient = overbar.grad(regression().function(), wrt="w")
    with pytest.raises(overbar.OverbarError, match=r"compute_chunk_sizes\(\)") as error:
        gradient(w, masked, from_numpy(y))
    assert "argument X is a dask.array.Array of shape (nan, 5)" in str(error.value)
    masked.compute_chunk_sizes()  # the remedy the message names
    selected = y > 0.5
    assert gradient(w, masked, from_numpy(y[selected])).shape == w.shape


def test_an_array_of_integers_to_differentiate_is_refused():
    case = regression()
    w, X, y = case.arguments
    gradient = overbar.grad(case.function(), wrt="w")
    with pytest.raises(overbar.OverbarError, match="dask.array.Array of dtype int64"):
        gradient(from_numpy(np.arange(5)), X, y)


def test_a_scalar_result_is_needed():
    f = define("def loss(w, X):\n    return X @ w\n", "loss")
    w, X, _ = regression().arguments
    with pytest.raises(overbar.OverbarError, match=r"dask.array.Array of shape \(120,\)"):
        overbar.grad(f, check=False)(w, from_numpy(X))


def test_on_worker_processes():
    """Two worker processes: the graph (and overbar's helpers in it) is pickled to them."""
    distributed = pytest.importorskip("distributed", reason="distributed is not installed")
    case = regression()
    w, X, y = case.arguments
    function = case.function()
    expected = overbar.grad(function, wrt="w")(w, X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        lazy = overbar.grad(function, wrt="w", check=False)(w, from_numpy(X), from_numpy(y))
        computed = client.compute(lazy, sync=True)
    np.testing.assert_allclose(computed, expected, rtol=1e-12)


def test_the_regression_example_fits_on_data_made_chunk_by_chunk():
    """examples/dask_regression.py, small: the data are made in the tasks that read them, the
    loss falls, and the gradient is NumPy's on the same rows."""
    from tests.test_examples import load_example

    example = load_example("dask_regression")
    X, y = example.make_data(rows=3000, features=4, chunk_rows=1000, seed=5)
    assert X.npartitions == 3 and X.shape == (3000, 4)
    losses = []
    with dask.config.set(scheduler="threads"):
        w = example.fit(X, y, steps=4, report=lambda line: losses.append(float(line.split()[3])))
        assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 0.05
        value, gradient = example.loss_and_gradient(w, X, y)
        X_numpy, y_numpy = dask.compute(X, y)
    expected_value, expected = overbar.value_and_grad(example.loss, wrt="w")(w, X_numpy, y_numpy)
    assert value.compute() == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(gradient.compute(), expected, rtol=1e-10)


@pytest.mark.parametrize("expression", RULE_EXPRESSIONS.values(), ids=RULE_EXPRESSIONS.keys())
def test_more_rules_stay_lazy(expression):
    f = define(f"def loss(a, b):\n    return {expression}\n", "loss")
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    gradient = overbar.grad(f, wrt=(0, 1), check=False)
    with dask.config.set(scheduler=_forbidden):
        lazy = gradient(da.from_array(a, chunks=3), da.from_array(b, chunks=3))
    assert all(isinstance(part, da.Array) for part in lazy)
    for got, want in zip(dask.compute(lazy)[0], overbar.grad(f, wrt=(0, 1))(a, b), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_indexing_a_differentiated_dask_array_with_an_index_array_is_refused():
    f = define("def loss(a):\n    return np.sum(a[np.array([0, 2, 2])] ** 2)\n", "loss")
    with pytest.raises(overbar.OverbarError, match="index array is not derived"):
        overbar.grad(f, check=False)(da.from_array(np.arange(4.0), chunks=2))


@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_the_graph_runs_no_overbar_code(make):
    """The tasks are Dask's and NumPy's: overbar runs while the graph is built, so workers
    need no overbar (the graph pickled, as a cluster sends it, names nothing of overbar's)."""
    cloudpickle = pytest.importorskip("cloudpickle")
    case = make()
    gradient = overbar.grad(case.function(), wrt=case.wrt, check=False, optimise=False)
    lazy = gradient(*_held(case))
    graphs = [dict(part.__dask_graph__()) for part in lazy if isinstance(part, da.Array)]
    assert graphs
    assert b"overbar" not in cloudpickle.dumps(graphs)


def _on_dask(value):
    if isinstance(value, list):
        return [_on_dask(part) for part in value]
    return da.from_array(value, chunks=2) if isinstance(value, np.ndarray) else value


_RNG = np.random.default_rng(12)
_HELPERS_OF_FUNCTIONS_DASK_LACKS = {
    "kron of matrices": (
        kron_bars,
        (_RNG.standard_normal((6, 6)), _RNG.standard_normal((2, 3)), _RNG.standard_normal((3, 2))),
        {},
    ),
    "kron of a vector and a matrix": (
        kron_bars,
        (_RNG.standard_normal((2, 12)), _RNG.standard_normal(3), _RNG.standard_normal((2, 4))),
        {},
    ),
    "multi_dot": (
        multi_dot_bars,
        (
            _RNG.standard_normal((2, 3)),
            [
                _RNG.standard_normal((2, 4)),
                _RNG.standard_normal((4, 5)),
                _RNG.standard_normal((5, 3)),
            ],
        ),
        {},
    ),
    "multi_dot of vectors": (
        multi_dot_bars,
        (
            np.float64(1.5),
            [_RNG.standard_normal(4), _RNG.standard_normal((4, 5)), _RNG.standard_normal(5)],
        ),
        {},
    ),
    "cross of 3-vectors": (
        cross_bars,
        (_RNG.standard_normal((4, 3)), _RNG.standard_normal((4, 3)), _RNG.standard_normal((4, 3))),
        {},
    ),
    "cross along other axes": (
        cross_bars,
        (_RNG.standard_normal((3, 4)), _RNG.standard_normal((4, 3)), _RNG.standard_normal(3)),
        {"axisc": 0},
    ),
    "cross of 2-vectors": (
        cross_bars,
        (_RNG.standard_normal(4), _RNG.standard_normal((4, 2)), _RNG.standard_normal((4, 2))),
        {},
    ),
}


@pytest.mark.parametrize(
    "helper, arguments, options",
    _HELPERS_OF_FUNCTIONS_DASK_LACKS.values(),
    ids=_HELPERS_OF_FUNCTIONS_DASK_LACKS.keys(),
)
def test_adjoints_of_functions_dask_lacks_are_lazy(helper, arguments, options):
    """Dask has no kron, multi_dot or cross: the user's call of one hands the arrays to NumPy,
    which computes them, in the forward sweep. Their adjoints' helpers, given Dask arrays, run
    no task and give NumPy's values (the strict stand-in runs the whole gradients)."""
    expected = helper(*arguments, **options)
    with dask.config.set(scheduler=_forbidden):
        lazy = helper(*_on_dask(list(arguments)), **options)
    assert all(isinstance(part, da.Array) for part in lazy)
    for got, want in zip(dask.compute(*lazy), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("shape, axis, length", [((7,), 0, 4), ((3, 9), 1, 5), ((2, 6, 3), 1, 8)])
def test_gathers_sum_copies_lazily_as_add_at_does(shape, axis, length):
    rng = np.random.default_rng(len(shape) + length)
    y_bar = rng.standard_normal(shape)
    origins = rng.integers(-1, length, size=shape[axis])
    with dask.config.set(scheduler=_forbidden):
        lazy = summed_at_origins(da.from_array(y_bar, chunks=2), origins, length, axis)
    assert isinstance(lazy, da.Array)
    expected = np.zeros(shape[:axis] + (length,) + shape[axis + 1 :])
    kept = origins >= 0
    np.add.at(np.moveaxis(expected, axis, 0), origins[kept], np.moveaxis(y_bar, axis, 0)[kept])
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-13)


def test_the_gradient_of_sort_of_a_dask_array_is_refused():
    f = define("def loss(a):\n    return np.sum(np.sort(a) * np.arange(4.0))\n", "loss")
    with pytest.raises(overbar.OverbarError, match="Dask has no sort") as caught:
        overbar.grad(f, check=False)(da.from_array(np.array([3.0, 1.0, 2.0, 0.0]), chunks=2))
    assert any(
        ": return np.sum(np.sort(a) * np.arange(4.0))" in note and "line" in note
        for note in caught.value.__notes__
    )


def test_a_pad_dask_makes_wrongly_is_refused():
    """Dask pads by more than an axis's length in the modes reflect, symmetric and wrap to the
    wrong shape (NumPy repeats the reflection): the adjoint says so rather than mix shapes."""
    f = define("def loss(a):\n    return np.sum(np.pad(a, (1, 7), mode='reflect') ** 2)\n", "loss")
    with pytest.raises(overbar.OverbarError, match=r"np.pad of a dask.array.Array gave .* \(8,\)"):
        overbar.grad(f, check=False)(da.from_array(np.arange(6.0), chunks=2))
