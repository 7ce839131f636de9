"""Graph pictures: DOT text from get_dot_graph, rendering through `dot` in plot_dot_graph."""
import os
import re
import shutil
import stat

import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.graph import GraphvizNotFoundError
from dezero.utils import get_dot_graph, plot_dot_graph


def _nodes(dot):
    """{node id: label} and the list of (src, dst) edges of a DOT text."""
    nodes = dict(re.findall(r'^(\d+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M))
    edges = re.findall(r'^(\d+) -> (\d+)$', dot, re.M)
    return nodes, edges


def _small_graph():
    x = Variable(np.array([[1.0, 2.0, 3.0]], dtype=np.float32), name='x')
    y = F.sin(x) * x
    y.name = 'y'
    return x, y


def test_dot_graph_names_every_function_and_variable_of_the_expression():
    x, y = _small_graph()
    nodes, edges = _nodes(get_dot_graph(y))
    labels = sorted(nodes.values())
    assert 'Sin' in labels and 'Mul' in labels
    assert 'x: (1, 3) float32' in labels and 'y: (1, 3) float32' in labels
    # x, sin(x), y; Sin, Mul: five nodes; x->Sin, Sin->s, x->Mul, s->Mul, Mul->y: five edges
    assert len(nodes) == 5
    assert len(edges) == 5
    assert (str(id(x)), str(id(y.creator))) in edges
    assert (str(id(y.creator)), str(id(y))) in edges


def test_dot_graph_styles_variables_orange_ellipses_and_functions_lightblue_boxes():
    _, y = _small_graph()
    dot = get_dot_graph(y)
    assert dot.startswith('digraph g {') and dot.rstrip().endswith('}')
    assert re.search(r'\[label="Sin", color=lightblue, style=filled, shape=box\]', dot)
    assert re.search(r'\[label="x: \(1, 3\) float32", color=orange, style=filled\]', dot)


def test_dot_graph_without_verbose_shows_names_only():
    _, y = _small_graph()
    nodes, _ = _nodes(get_dot_graph(y, verbose=False))
    assert 'x' in nodes.values() and 'y' in nodes.values()
    assert not any('float32' in label for label in nodes.values())


def test_dot_graph_escapes_quotes_in_names():
    x = Variable(np.array(1.0), name='say "hi"')
    y = F.exp(x)
    assert r'say \"hi\"' in get_dot_graph(y)


def test_dot_graph_draws_a_reused_variable_once():
    x = Variable(np.array(2.0), name='x')
    a = F.square(x)
    y = a + a + a
    nodes, edges = _nodes(get_dot_graph(y))
    assert list(nodes.values()).count('x: () float64') == 1
    assert list(nodes.values()).count('Square') == 1
    assert len(nodes) == 7      # x, Square, a, Add, a+a, Add, y
    assert len(edges) == 8


def test_dot_graph_walks_deep_graphs_without_recursion():
    x = Variable(np.array(1.0))
    y = x
    for _ in range(3000):
        y = F.sin(y)
    nodes, _ = _nodes(get_dot_graph(y, verbose=False))
    assert len(nodes) == 6001


def test_dot_graph_of_a_leaf_is_a_single_node():
    nodes, edges = _nodes(get_dot_graph(Variable(np.zeros(3), name='w')))
    assert list(nodes.values()) == ['w: (3,) float64'] and edges == []


def test_dot_graph_of_a_second_derivative_shows_the_backward_functions():
    x = Variable(np.array(1.0), name='x')
    y = F.tanh(x)
    y.backward(create_graph=True)
    gx = x.grad
    x.cleargrad()
    gx.backward(create_graph=True)
    nodes, _ = _nodes(get_dot_graph(x.grad, verbose=False))
    assert 'Tanh' in nodes.values()
    assert len(nodes) > 10


def test_dot_graph_rejects_non_variables():
    with pytest.raises(TypeError, match=r'get_dot_graph: output must be a Variable, got ndarray'):
        get_dot_graph(np.zeros(3))


def test_plot_dot_graph_to_a_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    _, y = _small_graph()
    out = plot_dot_graph(y, to_file=tmp_path / 'g.dot')
    assert out == str(tmp_path / 'g.dot')
    assert 'Sin' in (tmp_path / 'g.dot').read_text()


def test_plot_dot_graph_without_dot_keeps_the_dot_file_and_says_how_to_install(
        tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    _, y = _small_graph()
    with pytest.raises(GraphvizNotFoundError,
                       match=r"`dot` program was not found.*apt-get install graphviz.*"
                             r"brew install graphviz") as info:
        plot_dot_graph(y, to_file=tmp_path / 'g.png', strict=True)
    assert info.value.dot_file == str(tmp_path / 'g.dot')
    assert 'Mul' in (tmp_path / 'g.dot').read_text()
    assert not (tmp_path / 'g.png').exists()


def test_plot_dot_graph_without_dot_warns_and_returns_the_dot_file_by_default(
        tmp_path, monkeypatch):
    # The book's scripts draw graphs as a side effect: they must still finish.
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    _, y = _small_graph()
    with pytest.warns(RuntimeWarning, match=r"`dot` program was not found.*apt-get install"):
        out = plot_dot_graph(y, to_file=tmp_path / 'g.png')
    assert out == str(tmp_path / 'g.dot')
    assert not (tmp_path / 'g.png').exists()


def _fake_dot(tmp_path, body):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    script = bindir / 'dot'
    script.write_text('#!/bin/sh\n' + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(bindir)


def test_plot_dot_graph_runs_dot_with_the_format_of_the_extension(tmp_path, monkeypatch):
    # A stand-in `dot` that records its arguments proves the call without Graphviz.
    bindir = _fake_dot(tmp_path, 'echo "$@" > "$4"\n')
    monkeypatch.setenv('PATH', bindir)
    _, y = _small_graph()
    out = plot_dot_graph(y, to_file=tmp_path / 'sub' / 'g.svg')
    assert out == str(tmp_path / 'sub' / 'g.svg')
    args = (tmp_path / 'sub' / 'g.svg').read_text().split()
    assert args[0] == '-Tsvg' and args[1] == str(tmp_path / 'sub' / 'g.dot')
    assert sorted(p.name for p in (tmp_path / 'sub').iterdir()) == ['g.dot', 'g.svg']


def test_plot_dot_graph_reports_a_failing_dot(tmp_path, monkeypatch):
    bindir = _fake_dot(tmp_path, 'echo "Format: \\"xyz\\" not recognized" >&2\nexit 1\n')
    monkeypatch.setenv('PATH', bindir)
    _, y = _small_graph()
    with pytest.raises(RuntimeError, match=r'`dot -Txyz` failed \(exit code 1\).*not recognized'):
        plot_dot_graph(y, to_file=tmp_path / 'g.xyz')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bin', 'g.dot']


def test_plot_dot_graph_needs_an_extension(tmp_path):
    _, y = _small_graph()
    with pytest.raises(ValueError, match=r"plot_dot_graph: to_file .* has no extension"):
        plot_dot_graph(y, to_file=tmp_path / 'graph')


@pytest.mark.skipif(shutil.which('dot') is None, reason='Graphviz `dot` is not installed')
def test_plot_dot_graph_renders_a_real_png(tmp_path):
    _, y = _small_graph()
    out = plot_dot_graph(y, to_file=tmp_path / 'g.png')
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.stat(out).st_mode & 0o044  # readable by others, not the 0600 of a temp file
