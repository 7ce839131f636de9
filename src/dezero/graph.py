"""Pictures of computational graphs: DOT text, rendered by Graphviz's `dot` when installed.

Variables are orange ellipses, Functions light-blue boxes, as in the book's figures.
"""
import os
import shutil
import subprocess
import warnings

from dezero.core import Variable
from dezero.serializers import atomic_path, write_text

INSTALL_GRAPHVIZ = (
    "install Graphviz so that the `dot` program is on PATH: `sudo apt-get install graphviz` "
    "(Debian/Ubuntu), `brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`")


class GraphvizNotFoundError(RuntimeError):
    """Raised by plot_dot_graph when `dot` is not on PATH; `dot_file` holds the DOT text written."""

    def __init__(self, message, dot_file):
        super().__init__(message)
        self.dot_file = dot_file


def _quote(text):
    return '"' + str(text).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def _variable_label(v, verbose):
    label = '' if v.name is None else str(v.name)
    if verbose and v.data is not None:
        desc = f'{tuple(v.data.shape)} {v.data.dtype}'
        label = f'{label}: {desc}' if label else desc
    return label


def _variable_node(v, verbose):
    return (f'{id(v)} [label={_quote(_variable_label(v, verbose))}, '
            'color=orange, style=filled]')


def _function_node(f):
    return f'{id(f)} [label={_quote(type(f).__name__)}, color=lightblue, style=filled, shape=box]'


def get_dot_graph(output, verbose=True):
    """Return the DOT text of the graph that produced `output` (a Variable).

    Args:
        output: the Variable whose creators are drawn (walked iteratively, any depth).
        verbose: also show each Variable's shape and dtype next to its name.
    """
    if not isinstance(output, Variable):
        raise TypeError(f"get_dot_graph: output must be a Variable, got {type(output).__name__}; "
                        "pass the result of a dezero computation, e.g. y = F.sin(x).")
    lines = [_variable_node(output, verbose)]
    seen_vars = {id(output)}
    stack = [] if output.creator is None else [output.creator]
    seen_funcs = set(stack)
    while stack:
        f = stack.pop()
        lines.append(_function_node(f))
        for ref in f.outputs:
            y = ref()
            if y is None:
                continue
            if id(y) not in seen_vars:
                seen_vars.add(id(y))
                lines.append(_variable_node(y, verbose))
            lines.append(f'{id(f)} -> {id(y)}')
        for x in f.inputs:
            if id(x) not in seen_vars:
                seen_vars.add(id(x))
                lines.append(_variable_node(x, verbose))
            lines.append(f'{id(x)} -> {id(f)}')
            c = x.creator
            if c is not None and c not in seen_funcs:
                seen_funcs.add(c)
                stack.append(c)
    return 'digraph g {\n' + '\n'.join(lines) + '\n}\n'


def plot_dot_graph(output, verbose=True, to_file='graph.png', *, strict=False):
    """Draw the graph of `output` into to_file (format from its extension) and return the path.

    The DOT text is written first, next to to_file with a .dot extension (or to to_file
    itself when that ends in .dot); then `dot -T<ext>` renders it. When `dot` is not on
    PATH the .dot file stays and a RuntimeWarning says how to install Graphviz and render
    it, and the .dot path is returned, so a script that draws a graph as a side effect
    still finishes; with strict=True GraphvizNotFoundError is raised instead.
    """
    to_file = os.fspath(to_file)
    root, ext = os.path.splitext(to_file)
    ext = ext[1:].lower()
    if not ext:
        raise ValueError(f"plot_dot_graph: to_file {to_file!r} has no extension; name the "
                         "format, e.g. 'graph.png', 'graph.svg' or 'graph.dot'.")
    folder = os.path.dirname(to_file)
    if folder:
        os.makedirs(folder, exist_ok=True)
    dot_file = root + '.dot'
    write_text(dot_file, get_dot_graph(output, verbose))
    if ext == 'dot':
        return dot_file

    dot = shutil.which('dot')
    if dot is None:
        message = (f"plot_dot_graph: cannot render {to_file!r}: the Graphviz `dot` program was "
                   f"not found. The graph was written to {dot_file!r}; {INSTALL_GRAPHVIZ}, then "
                   f"run `dot -T{ext} {dot_file} -o {to_file}`.")
        if strict:
            raise GraphvizNotFoundError(message, dot_file)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return dot_file
    with atomic_path(to_file) as tmp:
        proc = subprocess.run([dot, '-T' + ext, dot_file, '-o', tmp],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"plot_dot_graph: `dot -T{ext}` failed (exit code "
                               f"{proc.returncode}): {proc.stderr.strip()}; check that "
                               f"{ext!r} is a format Graphviz knows (png, svg, pdf, ...).")
    return to_file
