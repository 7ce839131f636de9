"""COMPATIBILITY MODULE: the book's `dezero.utils`.

It defines nothing but `cache_dir`: every name the book imports from dezero.utils is
re-exported from the module that holds it (numerical, utils_array, graph, download).
New code imports from those modules.
"""
from dezero.numerical import (
    array_allclose, array_equal, check_double_backward, gradient_check, numerical_diff,
    numerical_grad)
from dezero.utils_array import (
    get_conv_outsize, get_deconv_outsize, logsumexp, max_backward_shape, pair,
    reshape_sum_backward, sum_to)
from dezero.graph import get_dot_graph, plot_dot_graph
from dezero.download import cache_dir as _cache_dir, get_file

# --- compatibility: the book's module-level cache folder (a string), resolved at import ---
cache_dir = _cache_dir()  # keeps the book's utils.cache_dir; get_file reads it per call
