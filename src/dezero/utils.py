"""The book's dezero.utils names, re-exported from the small modules that hold them."""
from dezero.numerical import (
    array_allclose, array_equal, check_double_backward, gradient_check, numerical_diff,
    numerical_grad)
from dezero.utils_array import (
    get_conv_outsize, get_deconv_outsize, logsumexp, max_backward_shape, pair,
    reshape_sum_backward, sum_to)
from dezero.graph import get_dot_graph, plot_dot_graph
from dezero.download import cache_dir as _cache_dir, get_file

# The book's module-level cache folder (a string), as resolved at import time;
# get_file itself reads DEZERO_CACHE_DIR on every call.
cache_dir = _cache_dir()
