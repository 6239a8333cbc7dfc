"""Adjoint rules for Python's operators and NumPy, one per primitive, each followed by its
tangent rule (forward mode).

Each rule is written in the bar notation of DESIGN.md (a tangent rule in the dot notation: ż for
the tangent of z): the docstring states the math and the body mirrors it. The compiler inlines
a rule into the generated code by renaming its parameters to the user's variables, so what is
written here is what the user reads. Operands that NumPy may have broadcast go through
``unbroadcast`` (in a tangent rule, ``broadcast_tangent``). Primitives with no gradient are
listed at the end.
"""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from overbar.primitives import Attribute, Method
from overbar.runtime.helpers import (
    broadcast_like,
    broadcast_tangent,
    cumsum_bar,
    expand_reduced,
    extremum_bar,
    index_bar,
    logistic,
    matmul_left_bar,
    matmul_right_bar,
    of_float_result,
    prod_bar,
    reduced_count,
    softplus,
    split_like,
    sum_bars,
    transposed,
    unbroadcast,
    unsort,
    unstack,
    untranspose,
    zero_gradient,
)
from overbar.runtime.helpers_math import (
    array_bar,
    array_dot,
    degrees_of_freedom,
)
from overbar.runtime.registry import VARIABLE, Rule, adjoint, non_differentiable, tangent

# ---------------------------------------------------------------------------------------------
# Arithmetic operators and their ufuncs
# ---------------------------------------------------------------------------------------------


@adjoint(operator.add, np.add)
def add(z, x, y, z_bar):
    """z = x + y:  x̄ = z̄,  ȳ = z̄"""
    return unbroadcast(z_bar, x), unbroadcast(z_bar, y)


@tangent(operator.add, np.add)
def add_tangent(z, x, y, x_dot, y_dot):
    """z = x + y:  ż = ẋ + ẏ"""
    return broadcast_tangent(x_dot, z), broadcast_tangent(y_dot, z)


@adjoint(operator.sub, np.subtract)
def subtract(z, x, y, z_bar):
    """z = x − y:  x̄ = z̄,  ȳ = −z̄"""
    return unbroadcast(z_bar, x), unbroadcast(-z_bar, y)


@tangent(operator.sub, np.subtract)
def subtract_tangent(z, x, y, x_dot, y_dot):
    """z = x − y:  ż = ẋ − ẏ"""
    return broadcast_tangent(x_dot, z), broadcast_tangent(-y_dot, z)


@adjoint(operator.mul, np.multiply)
def multiply(z, x, y, z_bar):
    """z = x y:  x̄ = z̄ y,  ȳ = z̄ x"""
    return unbroadcast(z_bar * y, x), unbroadcast(z_bar * x, y)


@tangent(operator.mul, np.multiply)
def multiply_tangent(z, x, y, x_dot, y_dot):
    """z = x y:  ż = ẋ y + x ẏ"""
    return x_dot * y, x * y_dot


@adjoint(operator.truediv, np.divide)
def divide(z, x, y, z_bar):
    """z = x / y:  x̄ = z̄ / y,  ȳ = −z̄ z / y"""
    return unbroadcast(z_bar / y, x), unbroadcast(-z_bar * z / y, y)


@tangent(operator.truediv, np.divide)
def divide_tangent(z, x, y, x_dot, y_dot):
    """z = x / y:  ż = ẋ / y − ẏ z / y"""
    return x_dot / y, -y_dot * z / y


@adjoint(operator.pow, np.power, math.pow, builtins.pow, where={"y": 2})
def square_power(z, x, y, z_bar):
    """z = x²:  x̄ = 2 x z̄"""
    return unbroadcast(z_bar * 2 * x, x)


@tangent(operator.pow, np.power, math.pow, builtins.pow, where={"y": 2})
def square_power_tangent(z, x, y, x_dot):
    """z = x²:  ż = 2 x ẋ"""
    return 2 * x * x_dot


@adjoint(operator.pow, np.power, math.pow, builtins.pow, where={"y": 0})
def zeroth_power(z, x, y, z_bar):
    """z = x⁰ = 1 (for every x, 0 included):  x̄ = 0  (y x^(y−1) would be 0 · ∞ at x = 0)"""
    return zero_gradient(x)


@tangent(operator.pow, np.power, math.pow, builtins.pow, where={"y": 0})
def zeroth_power_tangent(z, x, y, x_dot):
    """z = x⁰ = 1 (for every x, 0 included):  ż = 0"""
    return zero_gradient(x_dot)


@adjoint(operator.pow, np.power, math.pow, builtins.pow, where={"y": VARIABLE})
def variable_power(z, x, y, z_bar):
    """z = xʸ, y not a constant:  x̄ = z̄ y xʸ⁻¹ (0 where y = 0: x⁰ = 1 at x = 0 too),
    ȳ = z̄ z log x"""
    x_bar = unbroadcast(z_bar * y * x ** (y - 1 + (y == 0)), x)
    y_bar = unbroadcast(z_bar * z * np.log(np.where(x == 0, 1, x)), y)
    return x_bar, y_bar


@tangent(operator.pow, np.power, math.pow, builtins.pow, where={"y": VARIABLE})
def variable_power_tangent(z, x, y, x_dot, y_dot):
    """z = xʸ, y not a constant:  ż = ẋ y xʸ⁻¹ (0 where y = 0) + ẏ z log x"""
    x_term = x_dot * y * x ** (y - 1 + (y == 0))
    y_term = y_dot * z * np.log(np.where(x == 0, 1, x))
    return x_term, y_term


@adjoint(operator.pow, np.power, math.pow, builtins.pow)
def power(z, x, y, z_bar):
    """z = xʸ:  x̄ = z̄ y xʸ⁻¹,  ȳ = z̄ z log x"""
    x_bar = unbroadcast(z_bar * y * x ** (y - 1), x)
    y_bar = unbroadcast(z_bar * z * np.log(np.where(x == 0, 1, x)), y)
    return x_bar, y_bar


@tangent(operator.pow, np.power, math.pow, builtins.pow)
def power_tangent(z, x, y, x_dot, y_dot):
    """z = xʸ:  ż = ẋ y xʸ⁻¹ + ẏ z log x"""
    x_term = x_dot * y * x ** (y - 1)
    y_term = y_dot * z * np.log(np.where(x == 0, 1, x))
    return x_term, y_term


@adjoint(operator.neg, np.negative)
def negative(y, x, y_bar):
    """y = −x:  x̄ = −ȳ"""
    return -y_bar


@tangent(operator.neg, np.negative)
def negative_tangent(y, x, x_dot):
    """y = −x:  ẏ = −ẋ"""
    return -x_dot


@adjoint(operator.pos, np.positive)
def positive(y, x, y_bar):
    """y = +x:  x̄ = ȳ"""
    return y_bar


@tangent(operator.pos, np.positive)
def positive_tangent(y, x, x_dot):
    """y = +x:  ẏ = ẋ"""
    return x_dot


@adjoint(operator.matmul, np.matmul)
def matmul(z, x, y, z_bar):
    """z = x @ y:  x̄ = z̄ yᵀ,  ȳ = xᵀ z̄  (vectors and stacks as NumPy's matmul treats them)"""
    return matmul_left_bar(z_bar, x, y), matmul_right_bar(z_bar, x, y)


@tangent(operator.matmul, np.matmul)
def matmul_tangent(z, x, y, x_dot, y_dot):
    """z = x @ y:  ż = ẋ @ y + x @ ẏ"""
    return x_dot @ y, x @ y_dot


# The same, for the ranks at hand when the adjoint is compiled for its arguments' shapes (for
# np.dot too: ``rules_linalg.py`` registers them after its general rule, which would replace
# them if it came later).


@adjoint(operator.matmul, np.matmul, ranks={"x": 2, "y": 2})
def matmul_matrices(z, x, y, z_bar):
    """z = x @ y for two matrices:  x̄ = z̄ yᵀ,  ȳ = xᵀ z̄"""
    return z_bar @ y.T, x.T @ z_bar


@adjoint(operator.matmul, np.matmul, ranks={"x": 2, "y": 1})
def matmul_matrix_vector(z, x, y, z_bar):
    """z = x @ y, a matrix times a vector:  x̄ = z̄ yᵀ (an outer product),  ȳ = xᵀ z̄"""
    return np.outer(z_bar, y), x.T @ z_bar


@adjoint(operator.matmul, np.matmul, ranks={"x": 1, "y": 2})
def matmul_vector_matrix(z, x, y, z_bar):
    """z = x @ y, a vector times a matrix:  x̄ = y z̄,  ȳ = x z̄ᵀ (an outer product)"""
    return y @ z_bar, np.outer(x, z_bar)


@adjoint(operator.matmul, np.matmul, ranks={"x": 1, "y": 1})
def matmul_vectors(z, x, y, z_bar):
    """z = x · y for two vectors:  x̄ = z̄ y,  ȳ = z̄ x"""
    return z_bar * y, z_bar * x


# ---------------------------------------------------------------------------------------------
# Elementwise functions of one argument
# ---------------------------------------------------------------------------------------------


@adjoint(np.exp, math.exp)
def exp(y, x, y_bar):
    """y = exp(x):  x̄ = ȳ y"""
    return y_bar * y


@tangent(np.exp, math.exp)
def exp_tangent(y, x, x_dot):
    """y = exp(x):  ẏ = ẋ y"""
    return x_dot * y


@adjoint(np.exp2)
def exp2(y, x, y_bar):
    """y = 2ˣ:  x̄ = ȳ y log 2"""
    return y_bar * y * np.log(2.0)


@tangent(np.exp2)
def exp2_tangent(y, x, x_dot):
    """y = 2ˣ:  ẏ = ẋ y log 2"""
    return x_dot * y * np.log(2.0)


@adjoint(np.expm1, math.expm1)
def expm1(y, x, y_bar):
    """y = exp(x) − 1:  x̄ = ȳ (y + 1)"""
    return y_bar * (y + 1)


@tangent(np.expm1, math.expm1)
def expm1_tangent(y, x, x_dot):
    """y = exp(x) − 1:  ẏ = ẋ (y + 1)"""
    return x_dot * (y + 1)


@adjoint(np.log, math.log)
def log(y, x, y_bar):
    """y = log(x):  x̄ = ȳ / x"""
    return y_bar / x


@tangent(np.log, math.log)
def log_tangent(y, x, x_dot):
    """y = log(x):  ẏ = ẋ / x"""
    return x_dot / x


@adjoint(np.log2, math.log2)
def log2(y, x, y_bar):
    """y = log₂(x):  x̄ = ȳ / (x log 2)"""
    return y_bar / (x * np.log(2.0))


@tangent(np.log2, math.log2)
def log2_tangent(y, x, x_dot):
    """y = log₂(x):  ẏ = ẋ / (x log 2)"""
    return x_dot / (x * np.log(2.0))


@adjoint(np.log10, math.log10)
def log10(y, x, y_bar):
    """y = log₁₀(x):  x̄ = ȳ / (x log 10)"""
    return y_bar / (x * np.log(10.0))


@tangent(np.log10, math.log10)
def log10_tangent(y, x, x_dot):
    """y = log₁₀(x):  ẏ = ẋ / (x log 10)"""
    return x_dot / (x * np.log(10.0))


@adjoint(np.log1p, math.log1p)
def log1p(y, x, y_bar):
    """y = log(1 + x):  x̄ = ȳ / (1 + x)"""
    return y_bar / (1 + x)


@tangent(np.log1p, math.log1p)
def log1p_tangent(y, x, x_dot):
    """y = log(1 + x):  ẏ = ẋ / (1 + x)"""
    return x_dot / (1 + x)


@adjoint(np.sqrt, math.sqrt)
def sqrt(y, x, y_bar):
    """y = √x:  x̄ = ȳ / (2 y)"""
    return y_bar / (2 * y)


@tangent(np.sqrt, math.sqrt)
def sqrt_tangent(y, x, x_dot):
    """y = √x:  ẏ = ẋ / (2 y)"""
    return x_dot / (2 * y)


@adjoint(np.cbrt)
def cbrt(y, x, y_bar):
    """y = ∛x:  x̄ = ȳ / (3 y²)"""
    return y_bar / (3 * y * y)


@tangent(np.cbrt)
def cbrt_tangent(y, x, x_dot):
    """y = ∛x:  ẏ = ẋ / (3 y²)"""
    return x_dot / (3 * y * y)


@adjoint(np.square)
def square(y, x, y_bar):
    """y = x²:  x̄ = 2 x ȳ"""
    return y_bar * 2 * x


@tangent(np.square)
def square_tangent(y, x, x_dot):
    """y = x²:  ẏ = 2 x ẋ"""
    return 2 * x * x_dot


@adjoint(np.reciprocal)
def reciprocal(y, x, y_bar):
    """y = 1 / x:  x̄ = −ȳ y²"""
    return -y_bar * y * y


@tangent(np.reciprocal)
def reciprocal_tangent(y, x, x_dot):
    """y = 1 / x:  ẏ = −ẋ y²"""
    return -x_dot * y * y


@adjoint(np.sin, math.sin)
def sin(y, x, y_bar):
    """y = sin(x):  x̄ = ȳ cos(x)"""
    return y_bar * np.cos(x)


@tangent(np.sin, math.sin)
def sin_tangent(y, x, x_dot):
    """y = sin(x):  ẏ = ẋ cos(x)"""
    return x_dot * np.cos(x)


@adjoint(np.cos, math.cos)
def cos(y, x, y_bar):
    """y = cos(x):  x̄ = −ȳ sin(x)"""
    return -y_bar * np.sin(x)


@tangent(np.cos, math.cos)
def cos_tangent(y, x, x_dot):
    """y = cos(x):  ẏ = −ẋ sin(x)"""
    return -x_dot * np.sin(x)


@adjoint(np.tan, math.tan)
def tan(y, x, y_bar):
    """y = tan(x):  x̄ = ȳ (1 + y²)"""
    return y_bar * (1 + y * y)


@tangent(np.tan, math.tan)
def tan_tangent(y, x, x_dot):
    """y = tan(x):  ẏ = ẋ (1 + y²)"""
    return x_dot * (1 + y * y)


@adjoint(np.arcsin, math.asin)
def arcsin(y, x, y_bar):
    """y = arcsin(x):  x̄ = ȳ / √(1 − x²)"""
    return y_bar / np.sqrt(1 - x * x)


@tangent(np.arcsin, math.asin)
def arcsin_tangent(y, x, x_dot):
    """y = arcsin(x):  ẏ = ẋ / √(1 − x²)"""
    return x_dot / np.sqrt(1 - x * x)


@adjoint(np.arccos, math.acos)
def arccos(y, x, y_bar):
    """y = arccos(x):  x̄ = −ȳ / √(1 − x²)"""
    return -y_bar / np.sqrt(1 - x * x)


@tangent(np.arccos, math.acos)
def arccos_tangent(y, x, x_dot):
    """y = arccos(x):  ẏ = −ẋ / √(1 − x²)"""
    return -x_dot / np.sqrt(1 - x * x)


@adjoint(np.arctan, math.atan)
def arctan(y, x, y_bar):
    """y = arctan(x):  x̄ = ȳ / (1 + x²)"""
    return y_bar / (1 + x * x)


@tangent(np.arctan, math.atan)
def arctan_tangent(y, x, x_dot):
    """y = arctan(x):  ẏ = ẋ / (1 + x²)"""
    return x_dot / (1 + x * x)


@adjoint(np.sinh, math.sinh)
def sinh(y, x, y_bar):
    """y = sinh(x):  x̄ = ȳ cosh(x)"""
    return y_bar * np.cosh(x)


@tangent(np.sinh, math.sinh)
def sinh_tangent(y, x, x_dot):
    """y = sinh(x):  ẏ = ẋ cosh(x)"""
    return x_dot * np.cosh(x)


@adjoint(np.cosh, math.cosh)
def cosh(y, x, y_bar):
    """y = cosh(x):  x̄ = ȳ sinh(x)"""
    return y_bar * np.sinh(x)


@tangent(np.cosh, math.cosh)
def cosh_tangent(y, x, x_dot):
    """y = cosh(x):  ẏ = ẋ sinh(x)"""
    return x_dot * np.sinh(x)


@adjoint(np.tanh, math.tanh)
def tanh(y, x, y_bar):
    """y = tanh(x):  x̄ = ȳ (1 − y²)"""
    return y_bar * (1 - y * y)


@tangent(np.tanh, math.tanh)
def tanh_tangent(y, x, x_dot):
    """y = tanh(x):  ẏ = ẋ (1 − y²)"""
    return x_dot * (1 - y * y)


@adjoint(np.arcsinh)
def arcsinh(y, x, y_bar):
    """y = arcsinh(x):  x̄ = ȳ / √(x² + 1)"""
    return y_bar / np.sqrt(x * x + 1)


@tangent(np.arcsinh)
def arcsinh_tangent(y, x, x_dot):
    """y = arcsinh(x):  ẏ = ẋ / √(x² + 1)"""
    return x_dot / np.sqrt(x * x + 1)


@adjoint(np.arccosh)
def arccosh(y, x, y_bar):
    """y = arccosh(x):  x̄ = ȳ / √(x² − 1)"""
    return y_bar / np.sqrt(x * x - 1)


@tangent(np.arccosh)
def arccosh_tangent(y, x, x_dot):
    """y = arccosh(x):  ẏ = ẋ / √(x² − 1)"""
    return x_dot / np.sqrt(x * x - 1)


@adjoint(np.arctanh)
def arctanh(y, x, y_bar):
    """y = arctanh(x):  x̄ = ȳ / (1 − x²)"""
    return y_bar / (1 - x * x)


@tangent(np.arctanh)
def arctanh_tangent(y, x, x_dot):
    """y = arctanh(x):  ẏ = ẋ / (1 − x²)"""
    return x_dot / (1 - x * x)


@adjoint(np.abs, builtins.abs, math.fabs)
def absolute(y, x, y_bar):
    """y = |x|:  x̄ = ȳ sign(x)"""
    return y_bar * np.sign(x)


@tangent(np.abs, builtins.abs, math.fabs)
def absolute_tangent(y, x, x_dot):
    """y = |x|:  ẏ = ẋ sign(x)"""
    return x_dot * np.sign(x)


@adjoint(np.deg2rad, np.radians)
def deg2rad(y, x, y_bar):
    """y = x π / 180:  x̄ = ȳ π / 180"""
    return y_bar * (np.pi / 180)


@tangent(np.deg2rad, np.radians)
def deg2rad_tangent(y, x, x_dot):
    """y = x π / 180:  ẏ = ẋ π / 180"""
    return x_dot * (np.pi / 180)


@adjoint(np.rad2deg, np.degrees)
def rad2deg(y, x, y_bar):
    """y = x 180 / π:  x̄ = ȳ 180 / π"""
    return y_bar * (180 / np.pi)


@tangent(np.rad2deg, np.degrees)
def rad2deg_tangent(y, x, x_dot):
    """y = x 180 / π:  ẏ = ẋ 180 / π"""
    return x_dot * (180 / np.pi)


@adjoint(builtins.float)
def to_float(y, x, y_bar):
    """y = float(x):  x̄ = ȳ, shaped like x"""
    return np.reshape(y_bar, np.shape(x))


@tangent(builtins.float)
def to_float_tangent(y, x, x_dot):
    """y = float(x):  ẏ = float(ẋ)"""
    return float(x_dot)


@adjoint(builtins.float, ranks={"x": 0})
def number_to_float(y, x, y_bar):
    """y = float(x) of a number (or a 0-d array):  x̄ = ȳ, a number as x is"""
    return y_bar


@tangent(builtins.float, ranks={"x": 0})
def number_to_float_tangent(y, x, x_dot):
    """y = float(x) of a number (or a 0-d array):  ẏ = float(ẋ)"""
    return float(x_dot)


# ---------------------------------------------------------------------------------------------
# Elementwise functions of several arguments
# ---------------------------------------------------------------------------------------------


@adjoint(np.maximum, np.fmax)
def maximum(z, x, y, z_bar):
    """z = max(x, y):  x̄ = z̄ [x > y],  ȳ = z̄ [y > x]  (ties share z̄)"""
    x_wins = np.where(x == y, 0.5, x > y)
    return unbroadcast(z_bar * x_wins, x), unbroadcast(z_bar * (1 - x_wins), y)


@tangent(np.maximum, np.fmax)
def maximum_tangent(z, x, y, x_dot, y_dot):
    """z = max(x, y):  ż = ẋ [x > y] + ẏ [y > x]  (ties take half of each)"""
    x_wins = np.where(x == y, 0.5, x > y)
    return x_dot * x_wins, y_dot * (1 - x_wins)


@adjoint(np.minimum, np.fmin)
def minimum(z, x, y, z_bar):
    """z = min(x, y):  x̄ = z̄ [x < y],  ȳ = z̄ [y < x]  (ties share z̄)"""
    x_wins = np.where(x == y, 0.5, x < y)
    return unbroadcast(z_bar * x_wins, x), unbroadcast(z_bar * (1 - x_wins), y)


@tangent(np.minimum, np.fmin)
def minimum_tangent(z, x, y, x_dot, y_dot):
    """z = min(x, y):  ż = ẋ [x < y] + ẏ [y < x]  (ties take half of each)"""
    x_wins = np.where(x == y, 0.5, x < y)
    return x_dot * x_wins, y_dot * (1 - x_wins)


@adjoint(np.hypot)
def hypot(z, x, y, z_bar):
    """z = √(x² + y²):  x̄ = z̄ x / z,  ȳ = z̄ y / z"""
    return unbroadcast(z_bar * x / z, x), unbroadcast(z_bar * y / z, y)


@tangent(np.hypot)
def hypot_tangent(z, x, y, x_dot, y_dot):
    """z = √(x² + y²):  ż = (ẋ x + ẏ y) / z"""
    return x_dot * x / z, y_dot * y / z


@adjoint(np.arctan2, math.atan2)
def arctan2(z, y, x, z_bar):
    """z = atan2(y, x):  ȳ = z̄ x / (x² + y²),  x̄ = −z̄ y / (x² + y²)"""
    radius2 = x * x + y * y
    return unbroadcast(z_bar * x / radius2, y), unbroadcast(-z_bar * y / radius2, x)


@tangent(np.arctan2, math.atan2)
def arctan2_tangent(z, y, x, y_dot, x_dot):
    """z = atan2(y, x):  ż = (ẏ x − ẋ y) / (x² + y²)"""
    radius2 = x * x + y * y
    return y_dot * x / radius2, -x_dot * y / radius2


@adjoint(np.logaddexp)
def logaddexp(z, x, y, z_bar):
    """z = log(eˣ + eʸ):  x̄ = z̄ eˣ⁻ᶻ,  ȳ = z̄ eʸ⁻ᶻ"""
    return unbroadcast(z_bar * np.exp(x - z), x), unbroadcast(z_bar * np.exp(y - z), y)


@tangent(np.logaddexp)
def logaddexp_tangent(z, x, y, x_dot, y_dot):
    """z = log(eˣ + eʸ):  ż = ẋ eˣ⁻ᶻ + ẏ eʸ⁻ᶻ"""
    return x_dot * np.exp(x - z), y_dot * np.exp(y - z)


@adjoint(np.where)
def where(z, condition, x, y, z_bar):
    """z = where(c, x, y):  x̄ = z̄ where c,  ȳ = z̄ where not c"""
    x_bar = unbroadcast(np.where(condition, z_bar, 0.0), x)
    y_bar = unbroadcast(np.where(condition, 0.0, z_bar), y)
    return None, x_bar, y_bar


@tangent(np.where)
def where_tangent(z, condition, x, y, x_dot, y_dot):
    """z = where(c, x, y):  ż = ẋ where c, ẏ where not c"""
    x_term = broadcast_tangent(np.where(condition, x_dot, 0.0), z)
    y_term = broadcast_tangent(np.where(condition, 0.0, y_dot), z)
    return x_term, y_term


@adjoint(np.clip, Method("clip"), where={"a_max": None})
def clip_below(y, a, a_min, a_max=None, *, y_bar):
    """y = clip(a, lo, None) = max(a, lo):  ā = ȳ where a > lo;  l̄o takes ȳ where a is
    clipped to it (the general rule's tests against None are all true, or all false)"""
    a_bar = unbroadcast(y_bar * (y != a_min), a)
    a_min_bar = unbroadcast(y_bar * (y == a_min), a_min)
    return a_bar, a_min_bar, None


@tangent(np.clip, Method("clip"), where={"a_max": None})
def clip_below_tangent(y, a, a_min, a_max=None, *, a_dot, a_min_dot):
    """y = clip(a, lo, None):  ẏ = ȧ where a > lo, l̇o where clipped to lo"""
    return a_dot * (y != a_min), a_min_dot * (y == a_min)


@adjoint(np.clip, Method("clip"), where={"a_min": None})
def clip_above(y, a, a_min, a_max, *, y_bar):
    """y = clip(a, None, hi) = min(a, hi):  ā = ȳ where a < hi;  h̄i takes ȳ where a is
    clipped to it"""
    a_bar = unbroadcast(y_bar * (y != a_max), a)
    a_max_bar = unbroadcast(y_bar * (y == a_max), a_max)
    return a_bar, None, a_max_bar


@tangent(np.clip, Method("clip"), where={"a_min": None})
def clip_above_tangent(y, a, a_min, a_max, *, a_dot, a_max_dot):
    """y = clip(a, None, hi):  ẏ = ȧ where a < hi, ḣi where clipped to hi"""
    return a_dot * (y != a_max), a_max_dot * (y == a_max)


@adjoint(np.clip, Method("clip"))
def clip(y, a, a_min=None, a_max=None, *, y_bar):
    """y = clip(a, lo, hi):  ā = ȳ where lo < a < hi;  l̄o, h̄i take ȳ where a is clipped to them"""
    a_bar = unbroadcast(y_bar * ((y != a_min) & (y != a_max)), a)
    a_min_bar = unbroadcast(y_bar * (y == a_min), a_min)
    a_max_bar = unbroadcast(y_bar * (y == a_max) * (y != a_min), a_max)
    return a_bar, a_min_bar, a_max_bar


@tangent(np.clip, Method("clip"))
def clip_tangent(y, a, a_min=None, a_max=None, *, a_dot, a_min_dot, a_max_dot):
    """y = clip(a, lo, hi):  ẏ = ȧ where lo < a < hi, l̇o where clipped to lo, ḣi where to hi"""
    a_term = a_dot * ((y != a_min) & (y != a_max))
    a_min_term = a_min_dot * (y == a_min)
    a_max_term = a_max_dot * (y == a_max) * (y != a_min)
    return a_term, a_min_term, a_max_term


def logistic_from_output(h, z, h_bar):
    """h = 1 / (1 + exp(−z)):  z̄ = h̄ h (1 − h)

    Not in the table: the logistic function written out is four lines of the normal form, and
    the reverse sweep applies this to the last of them (``transpiler/logistic.py``)."""
    return h_bar * h * (1 - h)


def softplus_from_input(y, x, y_bar):
    """y = log(1 + exp(x)):  x̄ = ȳ / (1 + exp(−x))

    Not in the table, like the logistic function's rule above (``transpiler/logistic.py``)."""
    return y_bar / (1 + np.exp(-x))


LOGISTIC = Rule(logistic, logistic_from_output)
SOFTPLUS = Rule(softplus, softplus_from_input)


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------


@adjoint(np.sum, Method("sum"), where={"axis": None})
def sum_all(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Σ a:  ā = ȳ, broadcast to a's shape"""
    return broadcast_like(y_bar, a)


@tangent(np.sum, Method("sum"), where={"axis": None, "keepdims": False})
def sum_all_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = Σ a:  ẏ = Σ ȧ"""
    return np.sum(a_dot)


@adjoint(np.sum, Method("sum"), where={"keepdims": True})
def sum_keepdims(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Σ_axis a, keeping the summed axes:  ā = ȳ, broadcast back over them"""
    return broadcast_like(y_bar, a)


@adjoint(np.sum, Method("sum"))
def sum_(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Σ_axis a:  ā = ȳ, broadcast back over the summed axes"""
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims)


@tangent(np.sum, Method("sum"))
def sum_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = Σ_axis a:  ẏ = Σ_axis ȧ"""
    return np.sum(a_dot, axis=axis, keepdims=keepdims)


@adjoint(np.mean, Method("mean"))
def mean(y, a, axis=None, *, keepdims=False, y_bar):
    """y = mean_axis a:  ā = ȳ / n, broadcast back over the averaged axes"""
    count = reduced_count(a, y)
    return expand_reduced(y_bar / count, a, axis=axis, keepdims=keepdims)


@tangent(np.mean, Method("mean"), where={"axis": None, "keepdims": False})
def mean_all_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = mean a:  ẏ = mean ȧ"""
    return np.mean(a_dot)


@tangent(np.mean, Method("mean"))
def mean_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = mean_axis a:  ẏ = mean_axis ȧ"""
    return np.mean(a_dot, axis=axis, keepdims=keepdims)


@adjoint(np.prod, Method("prod"))
def prod(y, a, axis=None, *, keepdims=False, y_bar):
    """y = Π_axis a:  āᵢ = ȳ Π_{j≠i} aⱼ"""
    return prod_bar(y_bar, a, axis=axis, keepdims=keepdims)


@tangent(np.prod, Method("prod"))
def prod_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = Π_axis a:  ẏ = Σᵢ ȧᵢ Π_{j≠i} aⱼ  (exact with zeros)"""
    others = prod_bar(np.ones_like(y), a, axis=axis, keepdims=keepdims)
    return np.sum(a_dot * others, axis=axis, keepdims=keepdims)


@adjoint(np.max, np.amax, Method("max"), np.min, np.amin, Method("min"), where={"keepdims": True})
def extremum_keepdims(y, a, axis=None, *, keepdims=False, y_bar):
    """y = max_axis a (or min), keeping the axes:  ā = ȳ at the extreme elements, shared among
    ties"""
    winners = a == y
    return y_bar / winners.sum(axis=axis, keepdims=True) * winners


@adjoint(np.max, np.amax, Method("max"), np.min, np.amin, Method("min"))
def extremum(y, a, axis=None, *, keepdims=False, y_bar):
    """y = max_axis a (or min):  ā = ȳ at the extreme elements, shared among ties"""
    return extremum_bar(y_bar, y, a, axis=axis, keepdims=keepdims)


@tangent(np.max, np.amax, Method("max"), np.min, np.amin, Method("min"))
def extremum_tangent(y, a, axis=None, *, keepdims=False, a_dot):
    """y = max_axis a (or min):  ẏ = ȧ at the extreme element, averaged over ties"""
    shares = extremum_bar(np.ones_like(y), y, a, axis=axis, keepdims=keepdims)
    return np.sum(a_dot * shares, axis=axis, keepdims=keepdims)


@adjoint(np.var, Method("var"))
def var(y, a, axis=None, *, ddof=0, keepdims=False, y_bar):
    """y = var_axis a:  ā = ȳ 2 (a − ā̂) / (n − ddof)  (nan where ddof ≥ n, as y is inf or nan)"""
    centered = a - np.mean(a, axis=axis, keepdims=True)
    scale = 2 / degrees_of_freedom(a, y, ddof)
    return expand_reduced(y_bar, a, axis=axis, keepdims=keepdims) * centered * scale


@tangent(np.var, Method("var"))
def var_tangent(y, a, axis=None, *, ddof=0, keepdims=False, a_dot):
    """y = var_axis a:  ẏ = 2 Σ_axis (a − mean a) ȧ / (n − ddof)"""
    centered = a - np.mean(a, axis=axis, keepdims=True)
    scale = 2 / degrees_of_freedom(a, y, ddof)
    return np.sum(a_dot * centered, axis=axis, keepdims=keepdims) * scale


@adjoint(np.std, Method("std"))
def std(y, a, axis=None, *, ddof=0, keepdims=False, y_bar):
    """y = std_axis a:  ā = ȳ (a − mean a) / ((n − ddof) y);  ā = 0 where n = 1

    With one element per std, y ≡ 0 and a − mean a = 0 exactly: dividing by 1 instead of y
    gives the derivative, 0. (Of n > 1 equal elements the std has no derivative: that stays
    0 / 0, nan; so does ddof ≥ n, where y is inf or nan.)"""
    centered = a - np.mean(a, axis=axis, keepdims=True)
    count = reduced_count(a, y)
    spread = y if count != 1 else 1.0
    scale = 1 / degrees_of_freedom(a, y, ddof)
    return expand_reduced(y_bar / spread, a, axis=axis, keepdims=keepdims) * centered * scale


@tangent(np.std, Method("std"))
def std_tangent(y, a, axis=None, *, ddof=0, keepdims=False, a_dot):
    """y = std_axis a:  ẏ = Σ_axis (a − mean a) ȧ / ((n − ddof) y);  ẏ = 0 where n = 1"""
    centered = a - np.mean(a, axis=axis, keepdims=True)
    count = reduced_count(a, y)
    spread = y if count != 1 else 1.0
    scale = 1 / degrees_of_freedom(a, y, ddof)
    return np.sum(a_dot * centered, axis=axis, keepdims=keepdims) / spread * scale


@adjoint(builtins.sum)
def builtin_sum(y, iterable, start=0, *, y_bar):
    """y = Σᵢ xsᵢ + start:  x̄sᵢ = ȳ (summed to each element's shape),  s̄tart = ȳ"""
    return sum_bars(y_bar, iterable), unbroadcast(y_bar, start)


@tangent(builtins.sum)
def builtin_sum_tangent(y, iterable, start=0, *, iterable_dot, start_dot):
    """y = Σᵢ xsᵢ + start:  ẏ = Σᵢ ẋsᵢ + ṡtart"""
    return broadcast_tangent(sum(iterable_dot), y), broadcast_tangent(start_dot, y)


@adjoint(np.sort)
def sort(y, a, axis=-1, *, y_bar):
    """y = sort(a):  ā = ȳ put back where each element came from"""
    return unsort(y_bar, a, axis=axis)


@tangent(np.sort)
def sort_tangent(y, a, axis=-1, *, a_dot):
    """y = sort(a):  ẏ = ȧ taken in the order that sorts a"""
    return np.take_along_axis(a_dot, np.argsort(a, axis=axis), axis=axis)


@adjoint(np.cumsum, Method("cumsum"))
def cumsum(y, a, axis=None, *, y_bar):
    """y = cumsum_axis a:  ā = reversed cumsum of ȳ"""
    return cumsum_bar(y_bar, a, axis=axis)


@tangent(np.cumsum, Method("cumsum"))
def cumsum_tangent(y, a, axis=None, *, a_dot):
    """y = cumsum_axis a:  ẏ = cumsum_axis ȧ"""
    return np.cumsum(a_dot, axis=axis)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------


@adjoint(np.transpose, where={"axes": None})
def transpose_all(y, a, axes=None, *, y_bar):
    """y = aᵀ:  ā = ȳᵀ"""
    return np.transpose(y_bar)


@tangent(np.transpose)
def transpose_tangent(y, a, axes=None, *, a_dot):
    """y = transpose(a, axes):  ẏ = transpose(ȧ, axes)"""
    return np.transpose(a_dot, axes)


@adjoint(np.transpose)
def transpose(y, a, axes=None, *, y_bar):
    """y = transpose(a, axes):  ā = transpose(ȳ, axes⁻¹)"""
    return np.transpose(y_bar, np.argsort(axes))


@adjoint(Method("transpose"))
def transpose_method(y, a, *axes, y_bar):
    """y = a.transpose(*axes):  ā = transpose(ȳ, axes⁻¹)"""
    return untranspose(y_bar, axes)


@tangent(Method("transpose"))
def transpose_method_tangent(y, a, *axes, a_dot):
    """y = a.transpose(*axes):  ẏ = ȧ.transpose(*axes)"""
    return transposed(a_dot, axes)


@adjoint(Attribute("T"))
def transpose_attribute(y, a, y_bar):
    """y = aᵀ:  ā = ȳᵀ  (ȳ may be a Python float, which has no .T, where y is a number)"""
    return np.transpose(y_bar)


@tangent(Attribute("T"))
def transpose_attribute_tangent(y, a, a_dot):
    """y = aᵀ:  ẏ = ȧᵀ  (ȧ may be a Python float, which has no .T, where a is a number)"""
    return np.transpose(a_dot)


@tangent(Attribute("T"), ranks={"a": 2})
def transpose_attribute_matrix_tangent(y, a, a_dot):
    """y = aᵀ for a matrix:  ẏ = ȧᵀ"""
    return a_dot.T


@adjoint(Attribute("T"), ranks={"a": 2})
def transpose_attribute_matrix(y, a, y_bar):
    """y = aᵀ for a matrix:  ā = ȳᵀ"""
    return y_bar.T


@adjoint(Attribute("mT"))
def matrix_transpose_attribute(y, a, y_bar):
    """y = a.mT:  ā = ȳ.mT"""
    return y_bar.mT


@tangent(Attribute("mT"))
def matrix_transpose_attribute_tangent(y, a, a_dot):
    """y = a.mT:  ẏ = ȧ.mT"""
    return a_dot.mT


@adjoint(np.swapaxes, Method("swapaxes"))
def swapaxes(y, a, axis1, axis2, y_bar):
    """y = swapaxes(a, i, j):  ā = swapaxes(ȳ, i, j)"""
    return np.swapaxes(y_bar, axis1, axis2)


@tangent(np.swapaxes, Method("swapaxes"))
def swapaxes_tangent(y, a, axis1, axis2, a_dot):
    """y = swapaxes(a, i, j):  ẏ = swapaxes(ȧ, i, j)"""
    return np.swapaxes(a_dot, axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis(y, a, source, destination, y_bar):
    """y = moveaxis(a, s, d):  ā = moveaxis(ȳ, d, s)"""
    return np.moveaxis(y_bar, destination, source)


@tangent(np.moveaxis)
def moveaxis_tangent(y, a, source, destination, a_dot):
    """y = moveaxis(a, s, d):  ẏ = moveaxis(ȧ, s, d)"""
    return np.moveaxis(a_dot, source, destination)


# In C order, the default, the adjoint passes no order: Dask's reshape takes none.


@adjoint(np.reshape, where={"order": "C"})
def reshape_c(y, a, shape=None, order="C", *, y_bar):
    """y = reshape(a):  ā = ȳ reshaped like a"""
    return np.reshape(y_bar, np.shape(a))


@adjoint(np.reshape)
def reshape(y, a, shape=None, order="C", *, y_bar):
    """y = reshape(a) in another order:  ā = ȳ reshaped like a, in that order"""
    return np.reshape(y_bar, np.shape(a), order=order)


@tangent(np.reshape)
def reshape_tangent(y, a, shape=None, order="C", *, a_dot):
    """y = reshape(a):  ẏ = ȧ reshaped like y"""
    return np.reshape(a_dot, np.shape(y), order=order)


@adjoint(Method("reshape"), where={"order": "C"})
def reshape_method_c(y, a, *shape, order="C", y_bar):
    """y = a.reshape(shape):  ā = ȳ reshaped like a"""
    return np.reshape(y_bar, np.shape(a))


@adjoint(Method("reshape"))
def reshape_method(y, a, *shape, order="C", y_bar):
    """y = a.reshape(shape) in another order:  ā = ȳ reshaped like a, in that order"""
    return np.reshape(y_bar, np.shape(a), order=order)


@tangent(Method("reshape"))
def reshape_method_tangent(y, a, *shape, order="C", a_dot):
    """y = a.reshape(shape):  ẏ = ȧ reshaped like y"""
    return np.reshape(a_dot, np.shape(y), order=order)


@adjoint(np.ravel, Method("ravel"), Method("flatten"), where={"order": "C"})
def ravel_c(y, a, order="C", *, y_bar):
    """y = ravel(a):  ā = ȳ reshaped like a"""
    return np.reshape(y_bar, np.shape(a))


@adjoint(np.ravel, Method("ravel"), Method("flatten"))
def ravel(y, a, order="C", *, y_bar):
    """y = ravel(a) in another order:  ā = ȳ reshaped like a, in that order"""
    return np.reshape(y_bar, np.shape(a), order=order)


@tangent(np.ravel, Method("ravel"), Method("flatten"))
def ravel_tangent(y, a, order="C", *, a_dot):
    """y = ravel(a):  ẏ = ȧ reshaped like y"""
    return np.reshape(a_dot, np.shape(y), order=order)


@adjoint(np.squeeze, Method("squeeze"))
def squeeze(y, a, axis=None, *, y_bar):
    """y = squeeze(a):  ā = ȳ reshaped like a"""
    return np.reshape(y_bar, np.shape(a))


@tangent(np.squeeze, Method("squeeze"))
def squeeze_tangent(y, a, axis=None, *, a_dot):
    """y = squeeze(a):  ẏ = ȧ reshaped like y"""
    return np.reshape(a_dot, np.shape(y))


@adjoint(np.expand_dims)
def expand_dims(y, a, axis, y_bar):
    """y = expand_dims(a, axis):  ā = ȳ reshaped like a"""
    return np.reshape(y_bar, np.shape(a))


@tangent(np.expand_dims)
def expand_dims_tangent(y, a, axis, a_dot):
    """y = expand_dims(a, axis):  ẏ = ȧ reshaped like y"""
    return np.reshape(a_dot, np.shape(y))


@adjoint(np.broadcast_to)
def broadcast_to(y, array, shape, y_bar):
    """y = broadcast_to(a, shape):  ā = ȳ summed over the broadcast axes"""
    return unbroadcast(y_bar, array)


@tangent(np.broadcast_to)
def broadcast_to_tangent(y, array, shape, array_dot):
    """y = broadcast_to(a, shape):  ẏ = broadcast_to(ȧ, shape)"""
    return np.broadcast_to(array_dot, shape)


@adjoint(np.full)
def full(y, shape, fill_value, dtype=None, order="C", *, y_bar):
    """y = full(shape, f) of floats:  f̄ = ȳ summed over the axes f was broadcast along"""
    return None, unbroadcast(of_float_result(y_bar, y), fill_value)


@tangent(np.full)
def full_tangent(y, shape, fill_value, dtype=None, order="C", *, fill_value_dot):
    """y = full(shape, f) of floats:  ẏ = full(shape, ḟ)"""
    return np.full(np.shape(y), of_float_result(fill_value_dot, y), dtype=y.dtype)


@adjoint(np.full_like)
def full_like(y, a, fill_value, dtype=None, order="K", subok=True, shape=None, *, y_bar):
    """y = full_like(a, f) of floats:  ā = 0,  f̄ = ȳ summed over the axes f was broadcast
    along (a is read for its shape and dtype only)"""
    return None, unbroadcast(of_float_result(y_bar, y), fill_value)


@tangent(np.full_like)
def full_like_tangent(
    y, a, fill_value, dtype=None, order="K", subok=True, shape=None, *, a_dot, fill_value_dot
):
    """y = full_like(a, f) of floats:  ẏ = full_like(y, ḟ) (a: its shape and dtype only)"""
    return None, np.full_like(y, of_float_result(fill_value_dot, y))


@adjoint(np.concatenate)
def concatenate(y, arrays, axis=0, *, y_bar):
    """y = concatenate(xs, axis):  x̄ᵢ = the piece of ȳ where xᵢ went"""
    return split_like(y_bar, arrays, axis=axis)


@tangent(np.concatenate)
def concatenate_tangent(y, arrays, axis=0, *, arrays_dot):
    """y = concatenate(xs, axis):  ẏ = concatenate(ẋs, axis)"""
    return np.concatenate(arrays_dot, axis=axis)


@adjoint(np.stack)
def stack(y, arrays, axis=0, *, y_bar):
    """y = stack(xs, axis):  x̄ᵢ = ȳ[i] along axis"""
    return unstack(y_bar, arrays, axis=axis)


@tangent(np.stack)
def stack_tangent(y, arrays, axis=0, *, arrays_dot):
    """y = stack(xs, axis):  ẏ = stack(ẋs, axis)"""
    return np.stack(arrays_dot, axis=axis)


@adjoint(np.array, where={"ndmin": 0, "dtype": None})
def array(y, a, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None, *, y_bar):
    """y = array(a):  ā = ȳ (a list's elements take ȳ's rows)"""
    return y_bar


@adjoint(np.array, where={"ndmin": 0})
def array_of_dtype(
    y, a, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None, *, y_bar
):
    """y = array(a):  ā = ȳ (a list's elements take ȳ's rows); with a floating dtype, ȳ back
    in a's dtype; an integer or boolean dtype makes y piecewise constant:  ā = 0"""
    return array_bar(y_bar, a, dtype)


@tangent(np.array, where={"ndmin": 0})
def array_tangent(
    y, a, dtype=None, copy=True, order="K", subok=False, ndmin=0, like=None, *, a_dot
):
    """y = array(a):  ẏ = array(ȧ)  (a new array, as y is; in y's dtype where one is given)"""
    return array_dot(a_dot, y, dtype)


@adjoint(np.asarray, np.asanyarray, where={"dtype": None})
def asarray(y, a, dtype=None, order=None, *, device=None, copy=None, like=None, y_bar):
    """y = asarray(a):  ā = ȳ (a list's elements take ȳ's rows)"""
    return y_bar


@adjoint(np.asarray, np.asanyarray)
def asarray_of_dtype(y, a, dtype=None, order=None, *, device=None, copy=None, like=None, y_bar):
    """y = asarray(a):  ā = ȳ (a list's elements take ȳ's rows); with a floating dtype, ȳ
    back in a's dtype; an integer or boolean dtype makes y piecewise constant:  ā = 0"""
    return array_bar(y_bar, a, dtype)


@tangent(np.asarray, np.asanyarray)
def asarray_tangent(y, a, dtype=None, order=None, *, device=None, copy=None, like=None, a_dot):
    """y = asarray(a):  ẏ = ȧ as an array (in y's dtype where one is given)"""
    return array_dot(a_dot, y, dtype)


@adjoint(np.ascontiguousarray, np.asfortranarray)
def ascontiguousarray(y, a, dtype=None, *, like=None, y_bar):
    """y = a as an array of at least one dimension (a number: one element):  ā = ȳ shaped like
    a (with a dtype, as np.asarray's)"""
    return np.reshape(array_bar(y_bar, a, dtype), np.shape(a))


@tangent(np.ascontiguousarray, np.asfortranarray)
def ascontiguousarray_tangent(y, a, dtype=None, *, like=None, a_dot):
    """y = a as an array of at least one dimension:  ẏ = ȧ shaped like y"""
    return np.reshape(array_dot(a_dot, y, dtype), np.shape(y))


@adjoint(np.copy, Method("copy"))
def copy(y, a, order="K", subok=False, *, y_bar):
    """y = copy(a):  ā = ȳ"""
    return y_bar


@tangent(np.copy, Method("copy"))
def copy_tangent(y, a, order="K", subok=False, *, a_dot):
    """y = copy(a):  ẏ = copy(ȧ)  (a new array, as y is)"""
    return np.copy(a_dot)


@adjoint(np.flip)
def flip(y, m, axis=None, *, y_bar):
    """y = flip(m, axis):  m̄ = flip(ȳ, axis)"""
    return np.flip(y_bar, axis)


@tangent(np.flip)
def flip_tangent(y, m, axis=None, *, m_dot):
    """y = flip(m, axis):  ẏ = flip(ṁ, axis)"""
    return np.flip(m_dot, axis)


@adjoint(np.tril)
def tril(y, m, k=0, *, y_bar):
    """y = tril(m, k):  m̄ = tril(ȳ, k)  (a vector m is tril'd as the rows of a square matrix,
    whose adjoint sums back onto it)"""
    return unbroadcast(np.tril(y_bar, k), m)


@tangent(np.tril)
def tril_tangent(y, m, k=0, *, m_dot):
    """y = tril(m, k):  ẏ = tril(ṁ, k)"""
    return np.tril(m_dot, k)


@adjoint(np.triu)
def triu(y, m, k=0, *, y_bar):
    """y = triu(m, k):  m̄ = triu(ȳ, k)  (a vector m: summed back from the square matrix)"""
    return unbroadcast(np.triu(y_bar, k), m)


@tangent(np.triu)
def triu_tangent(y, m, k=0, *, m_dot):
    """y = triu(m, k):  ẏ = triu(ṁ, k)"""
    return np.triu(m_dot, k)


# ---------------------------------------------------------------------------------------------
# Reading by index and slice
# ---------------------------------------------------------------------------------------------


@adjoint(operator.getitem)
def getitem(y, a, index, y_bar):
    """y = a[index]:  ā = zeros like a, with ȳ added at [index]"""
    return index_bar(y_bar, a, index)


@tangent(operator.getitem)
def getitem_tangent(y, a, index, a_dot):
    """y = a[index]:  ẏ = ȧ[index]"""
    return a_dot[index]


# ---------------------------------------------------------------------------------------------
# No gradient: integer, boolean and piecewise-constant results
# ---------------------------------------------------------------------------------------------

non_differentiable(
    # comparisons and logic
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.invert, operator.and_, operator.or_, operator.xor,
    operator.is_, operator.is_not, operator.contains,
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.any, np.all, Method("any"), Method("all"),
    # piecewise-constant functions (zero gradient almost everywhere)
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix,
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite,
    operator.floordiv, np.floor_divide, builtins.round,
    # indices and counts
    np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero, np.count_nonzero,
    np.searchsorted, Method("argmax"), Method("argmin"), Method("argsort"),
    # shapes and types
    np.shape, np.ndim, np.size, builtins.len, builtins.int, builtins.bool,
    # casts to NumPy's integer and boolean types (piecewise constant, as int() is)
    np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.intp, np.uintp, np.bool_,
    Attribute("shape"), Attribute("ndim"), Attribute("size"), Attribute("dtype"),
    # arrays whose values do not depend on the input's values
    np.zeros_like, np.ones_like, np.empty_like,
)  # fmt: skip
