"""dezero._parallel: batch chunks over threads, and kernels that give the same result split."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable, _parallel

pytest.importorskip('threadpoolctl', reason='the split pins BLAS through threadpoolctl')


@pytest.mark.parametrize('threads,n,min_chunk,expected', [
    ('1', 64, 8, [(0, 64)]),                      # one thread: no split
    ('2', 64, 8, [(0, 32), (32, 64)]),
    ('3', 7, 4, [(0, 7)]),                        # too small to share
    ('3', 10, 4, [(0, 5), (5, 10)]),              # no more chunks than n // min_chunk
    ('3', 12, 4, [(0, 4), (4, 8), (8, 12)]),
    ('4', 20, 8, [(0, 10), (10, 20)]),
])
def test_chunks_cut_the_batch_per_thread(monkeypatch, threads, n, min_chunk, expected):
    monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
    assert _parallel.chunks(np, n, min_chunk) == expected


@pytest.mark.parametrize('n,item_work,min_work,expected', [
    (64, 100, 0, [(0, 32), (32, 64)]),            # no work limit
    (64, 100, 3200, [(0, 32), (32, 64)]),         # 32 items carry just enough
    (64, 100, 3201, [(0, 64)]),                   # too little work to share
    (64, 0, 3201, [(0, 32), (32, 64)]),           # unknown work: the item count decides
])
def test_chunks_carry_enough_work(monkeypatch, n, item_work, min_work, expected):
    monkeypatch.setenv('DEZERO_NUM_THREADS', '2')
    assert _parallel.chunks(np, n, 8, item_work, min_work) == expected


def test_chunks_never_split_other_array_modules(monkeypatch, standin_gpu):
    monkeypatch.setenv('DEZERO_NUM_THREADS', '2')
    assert _parallel.chunks(standin_gpu, 64, 8) == [(0, 64)]


def test_bad_thread_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv('DEZERO_NUM_THREADS', 'two')
    with pytest.raises(ValueError, match='DEZERO_NUM_THREADS must be a positive integer'):
        _parallel.num_threads()


def _blas_threads():
    return [lc.get_num_threads() for lc in _parallel._blas_controllers()]


@pytest.fixture
def two_blas_threads():
    """BLAS at two threads for the test (and put back as found afterwards)."""
    from threadpoolctl import threadpool_limits
    _parallel.restore_blas()
    with threadpool_limits(2, user_api='blas'):
        if not _parallel._blas_controllers() or _blas_threads() != [2] * len(_blas_threads()):
            pytest.skip('no BLAS whose threads threadpoolctl can set')
        yield
        _parallel.restore_blas()


def test_run_returns_results_in_order_and_leaves_blas_pinned(two_blas_threads):
    out = _parallel.run(lambda a, b: list(range(a, b)), [(0, 2), (2, 5), (5, 6)])
    assert out == [[0, 1], [2, 3, 4], [5]]
    # pinned until given back: waking OpenBLAS's workers after each split costs a core
    assert set(_blas_threads()) == {1}
    assert _parallel.num_threads() == 2  # the saved setting, so that splits go on
    _parallel.restore_blas()
    assert set(_blas_threads()) == {2}
    _parallel.restore_blas()  # a second call changes nothing
    assert set(_blas_threads()) == {2}


def test_a_thread_setting_made_while_pinned_wins_over_the_saved_one(two_blas_threads):
    from threadpoolctl import threadpool_limits
    _parallel.run(lambda a, b: None, [(0, 1), (1, 2)])
    assert set(_blas_threads()) == {1}
    with threadpool_limits(3, user_api='blas'):  # the user's own setting
        assert _parallel.num_threads() == 3
        _parallel.restore_blas()  # must not put back the 2 saved before
        assert set(_blas_threads()) == {3}


@pytest.mark.parametrize('shapes,restored', [
    (((64, 1568), (1568, 10)), False),     # a CNN's classifier: too small to thread
    (((100, 784), (784, 1000)), True),     # an MLP layer: BLAS threads come back
])
def test_a_big_product_gives_blas_its_threads_back(two_blas_threads, shapes, restored):
    x, W = (Variable(np.ones(s, np.float32)) for s in shapes)
    for f in (F.linear, F.matmul):
        _parallel.run(lambda a, b: None, [(0, 1), (1, 2)])
        y = f(x, W)
        assert set(_blas_threads()) == ({2} if restored else {1})
        _parallel.run(lambda a, b: None, [(0, 1), (1, 2)])
        y.backward()
        assert set(_blas_threads()) == ({2} if restored else {1})
        np.testing.assert_array_equal(y.data, x.data @ W.data)


def _one_and_two_threads(monkeypatch, compute):
    """{'1': compute(), '2': compute()} under DEZERO_NUM_THREADS=1 and 2, and the number of
    parts each _parallel.run call got."""
    splits = []
    run = _parallel.run
    monkeypatch.setattr(_parallel, 'run', lambda fn, parts: splits.append(len(parts)) or
                        run(fn, parts))
    results = {}
    for threads in ('1', '2'):
        monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
        results[threads] = compute()
    return results, splits


def _forward_backward(f, gy, *inputs):
    """[y, grads of the inputs] of y = f(*inputs) with y's gradient gy."""
    vs = [Variable(a) for a in inputs]
    y = f(*vs)
    y.grad = Variable(gy)
    y.backward()
    return [y.data] + [v.grad.data for v in vs]


# (name, function, input shapes, float32 tolerance; float64 takes 1e-12, exact ones 0):
# batches big enough to be split in two
SPLIT_CASES = [
    ('conv2d pad 1', lambda x, W, b: F.conv2d(x, W, b, stride=1, pad=1),
     [(20, 3, 9, 8), (5, 3, 3, 3), (5,)], 1e-5),
    ('conv2d stride 2', lambda x, W, b: F.conv2d(x, W, b, stride=2, pad=0),
     [(20, 3, 9, 8), (5, 3, 3, 3), (5,)], 1e-5),
    # Winograd's transforms add and subtract before the sums: more rounding in float32
    ('conv2d winograd', lambda x, W, b: F.conv2d(x, W, b, stride=1, pad=1),
     [(18, 64, 4, 5), (32, 64, 3, 3), (32,)], 1e-4),
    ('max pooling 2x2', lambda x: F.pooling(x, 2, 2), [(18, 3, 7, 6)], 0),
    ('max pooling 3x3 stride 2 pad 1', lambda x: F.pooling(x, 3, 2, 1), [(18, 3, 7, 6)], 0),
    ('average pooling 3x3 stride 1 pad 1', lambda x: F.average_pooling(x, 3, 1, 1),
     [(18, 3, 7, 6)], 0),
    ('relu', F.relu, [(_parallel.ELEMENTWISE_MIN + 5, 1)], 0),
    ('sigmoid', F.sigmoid, [(_parallel.TRANSCENDENTAL_MIN + 5, 1)], 0),
    # batch norm's sums add the chunks' partial sums: float rounding apart
    ('batch norm', lambda x, g, b: F.batch_norm(x, g, b, np.zeros(8), np.ones(8)),
     [(16, 8, 64, 64), (8,), (8,)], 1e-4),
    ('exp', F.exp, [(_parallel.TRANSCENDENTAL_MIN + 5, 1)], 0),
    ('tanh', F.tanh, [(_parallel.TRANSCENDENTAL_MIN + 5, 1)], 0),
    ('softmax cross entropy', lambda x: F.reshape(
        F.softmax_cross_entropy(x, np.arange(2049) % 64), (1,)), [(2049, 64)], 0),
    ('softmax and logsumexp', lambda x: F.softmax(x) * F.logsumexp(x, axis=1, keepdims=True),
     [(2049, 64)], 0),
]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name,f,shapes,tol32', SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES])
def test_split_over_threads_matches_one_thread(monkeypatch, dtype, name, f, shapes, tol32):
    rng = np.random.RandomState(0)
    # few distinct values: many ties, whose gradient must still go to the first maximum
    inputs = [rng.randint(-2, 3, size=s).astype(dtype) for s in shapes]
    gy = rng.randn(*f(*inputs).shape).astype(dtype)
    # small arrays keep the test fast: split them although they carry little work
    monkeypatch.setattr(_parallel, 'MIN_PRODUCT_WORK', 0)
    monkeypatch.setattr(_parallel, 'MIN_ELEMENT_WORK', 0)
    results, splits = _one_and_two_threads(
        monkeypatch, lambda: _forward_backward(f, gy, *inputs))
    assert 2 in splits, f"{name}: the two-thread pass did not split"
    tol = tol32 if dtype == np.float32 or tol32 == 0 else 1e-12
    for one, two in zip(results['1'], results['2']):
        assert two.dtype == dtype
        np.testing.assert_allclose(two, one, rtol=tol, atol=tol)


def test_warm_blas_runs_one_product_in_n_threads_at_once_once(monkeypatch, two_blas_threads):
    """Each of n threads that multiply at once has a BLAS buffer of its own: warm_blas(n)
    runs the warming product in n distinct threads together, once per thread count."""
    import threading
    monkeypatch.setattr(_parallel, '_warmed', 0)
    seen = []
    monkeypatch.setattr(_parallel, '_warm_product', lambda: seen.append(threading.get_ident()))
    _parallel.warm_blas(2)
    assert len(seen) == 2 and len(set(seen)) == 2
    assert set(_blas_threads()) == {1}   # pinned like a split
    _parallel.warm_blas(2)
    _parallel.warm_blas(1)
    assert len(seen) == 2                 # done already
    _parallel.warm_blas(3)
    assert len(seen) == 5 and len(set(seen[2:])) == 3


def test_convolutions_warm_blas_before_their_products(monkeypatch, standin_gpu):
    calls = []
    monkeypatch.setattr(_parallel, 'warm_blas', calls.append)
    monkeypatch.setenv('DEZERO_NUM_THREADS', '1')
    x, W = np.ones((2, 3, 5, 5), np.float32), np.ones((4, 3, 3, 3), np.float32)
    F.conv2d(Variable(x), W, pad=1).backward()
    assert calls and set(calls) == {1}    # forward, input and weight gradients
    calls.clear()
    from dezero.functions.conv import _conv_forward
    _conv_forward(standin_gpu, standin_gpu.asarray(x), standin_gpu.asarray(W), (1, 1),
                  (1, 1), (5, 5))
    assert not calls                      # not for another array module


@pytest.mark.parametrize('how', ['run', 'run_tasks'])
def test_pool_threads_follow_the_callers_errstate(two_blas_threads, how):
    """np.errstate is per thread: the parts that run in the pool get the caller's."""
    def overflow(*_):
        return np.float32(3e38) * np.float32(10)
    with np.errstate(over='raise'):
        with pytest.raises(FloatingPointError):
            if how == 'run':
                _parallel.run(overflow, [(0, 1), (1, 2)])
            else:
                _parallel.run_tasks(np, [lambda: None, overflow])
    with np.errstate(over='ignore'):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('error')   # a RuntimeWarning would fail here
            if how == 'run':
                _parallel.run(overflow, [(0, 1), (1, 2)])
            else:
                _parallel.run_tasks(np, [lambda: None, overflow])


def test_run_tasks_one_thread_each_not_split_again(monkeypatch, two_blas_threads):
    import threading
    monkeypatch.setenv('DEZERO_NUM_THREADS', '2')
    idents = []

    def task(k):
        def run():
            idents.append(threading.get_ident())
            return k, _parallel.chunks(np, 64, 8), _parallel.run_tasks(np, [lambda: 'nested'])
        return run
    out = _parallel.run_tasks(np, [task(0), task(1)])
    assert [o[0] for o in out] == [0, 1]
    assert all(o[1] == [(0, 64)] for o in out)       # a task has its thread to itself
    assert all(o[2] == ['nested'] for o in out)
    assert len(set(idents)) == 2
    assert _parallel.chunks(np, 64, 8) == [(0, 32), (32, 64)]   # outside: split as usual
    monkeypatch.setenv('DEZERO_NUM_THREADS', '1')
    idents.clear()
    assert [o[0] for o in _parallel.run_tasks(np, [task(0), task(1)])] == [0, 1]
    assert set(idents) == {threading.get_ident()}    # one thread: one after the other


@pytest.mark.parametrize('bias', [True, False])
def test_conv2d_backward_runs_input_and_weight_gradients_at_once(monkeypatch,
                                                                 two_blas_threads, bias):
    monkeypatch.setenv('DEZERO_NUM_THREADS', '2')
    calls = []
    original = _parallel.run_tasks
    monkeypatch.setattr(_parallel, 'run_tasks', lambda xp, fns: calls.append(len(fns)) or
                        original(xp, fns))
    rng = np.random.RandomState(3)
    arrays = [rng.randn(4, 3, 6, 5), rng.randn(5, 3, 3, 3)] + ([rng.randn(5)] if bias else [])
    w = rng.randn(4, 5, 6, 5)
    grads = {}
    for create_graph in (False, True):
        vs = [Variable(a) for a in arrays]
        F.sum(F.conv2d(*vs, pad=1) * w).backward(create_graph=create_graph)
        grads[create_graph] = [v.grad.data for v in vs]
    assert calls == [2]          # the array backward only
    for fast, slow in zip(grads[False], grads[True]):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


_FORK_SCRIPT = '''
import os, sys
import numpy as np
from threadpoolctl import threadpool_limits
threadpool_limits(2, user_api='blas')
import dezero.functions as F
from dezero import _parallel
x = np.random.default_rng(0).standard_normal((64, 16, 28, 28)).astype(np.float32)
assert len(_parallel.chunks(np, x.size, 1 << 18)) == 2, 'no split to test'
expected = F.relu(x).data              # the parent's pool threads exist now
pid = os.fork()
if pid == 0:                           # they do not in the child: it must split anyway
    ok = np.array_equal(F.relu(x).data, expected) and _parallel._pool is not None
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
'''


@pytest.mark.skipif(not hasattr(__import__('os'), 'fork'), reason='needs os.fork (POSIX)')
def test_a_forked_child_splits_with_threads_of_its_own():
    """The parent's pool threads do not survive a fork: the child starts its own pool
    instead of waiting forever for theirs."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', _FORK_SCRIPT], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize('env,share,expected,after', [
    ({}, 1, 1, 1),                                   # lowered to the share
    ({}, 2, None, 2),                                # already within it
    ({}, 8, None, 2),                                # never raised
    ({}, 0, 1, 1),                                   # at least one thread
    ({'OMP_NUM_THREADS': '2'}, 1, None, 2),          # the user's setting wins
    ({'DEZERO_NUM_THREADS': '2'}, 1, None, 2),
])
def test_share_cpus_lowers_blas_unless_the_environment_sets_threads(monkeypatch, two_blas_threads,
                                                                    env, share, expected, after):
    for name in _parallel.THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _parallel.share_cpus(share) == expected
    assert _blas_threads() == [after] * len(_blas_threads())


def test_share_cpus_while_a_split_has_pinned_blas_lowers_what_comes_back(monkeypatch,
                                                                          two_blas_threads):
    for name in _parallel.THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    _parallel.run(lambda a, b: None, [(0, 1), (1, 2)])   # pins BLAS, saving 2
    assert _blas_threads() == [1] * len(_blas_threads())
    assert _parallel.share_cpus(1) == 1
    _parallel.restore_blas()
    assert _blas_threads() == [1] * len(_blas_threads())
