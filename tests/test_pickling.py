"""Gradients cross process boundaries: a decorated module-level function pickles by reference,
a ``grad(f, ...)`` object as its function and options (built again, and compiled or read from
the disk cache, on the other side). Two tests start worker processes with the spawn method (a
multiprocessing pool and a ProcessPoolExecutor); they are slow to start, so there are two."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle

import numpy as np

import overbar


def loss(x, w):
    return np.sum(np.tanh(x * w))


@overbar.grad(wrt=("x", "w"))
def decorated(x, w):
    return np.sum(x * x * w)


def expected_loss_gradient(x, w):
    return (1 - np.tanh(x * w) ** 2) * w


def apply(gradient, x, w):
    """Run in a worker: the gradient arrives pickled."""
    return gradient(x, w)


def test_a_decorated_module_level_function_pickles_by_reference():
    data = pickle.dumps(decorated)
    assert b"decorated" in data and len(data) < 200  # a reference, not the adjoint
    assert pickle.loads(data) is decorated


def test_a_gradient_object_pickles_as_its_function_and_options():
    gradient = overbar.value_and_grad(loss, wrt=1, optimise=False, check=False)
    copy = pickle.loads(pickle.dumps(gradient))
    assert copy is gradient  # in this process, the same function and options: the same object
    x, w = np.linspace(-1, 1, 4), np.linspace(0.5, 2, 4)
    value, g = copy(x, w)
    np.testing.assert_allclose(g, (1 - np.tanh(x * w) ** 2) * x, rtol=1e-12)
    assert repr(copy) == repr(gradient)


def test_a_gradient_of_a_decorated_def_pickles_through_the_decorated_name():
    gradient = overbar.grad(decorated.__wrapped__, wrt=0)
    copy = pickle.loads(pickle.dumps(gradient))
    assert copy is gradient
    x, w = np.ones(3), np.full(3, 2.0)
    np.testing.assert_allclose(copy(x, w), 2 * x * w)


def test_gradients_go_to_a_spawn_multiprocessing_pool():
    rng = np.random.default_rng(1)
    jobs = [(rng.normal(size=(4,)), rng.normal(size=(4,))) for _ in range(4)]
    gradient = overbar.grad(loss)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(apply, [(gradient, x, w) for x, w in jobs])
        both = pool.starmap(apply, [(decorated, x, w) for x, w in jobs])
    for (x, w), result, (gx, gw) in zip(jobs, results, both, strict=True):
        np.testing.assert_allclose(result, expected_loss_gradient(x, w), rtol=1e-12)
        np.testing.assert_allclose(gx, 2 * x * w, rtol=1e-12)
        np.testing.assert_allclose(gw, x * x, rtol=1e-12)


def test_gradients_go_to_a_process_pool_executor():
    x, w = np.linspace(-1, 1, 5), np.linspace(1, 2, 5)
    gradient = overbar.grad(loss, wrt=(0, 1))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as executor:
        gx, gw = executor.submit(apply, gradient, x, w).result(timeout=300)
    np.testing.assert_allclose(gx, expected_loss_gradient(x, w), rtol=1e-12)
    np.testing.assert_allclose(gw, (1 - np.tanh(x * w) ** 2) * x, rtol=1e-12)
