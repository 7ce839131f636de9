"""dezero.serializers against hostile or damaged files: headers checked before any data is
read, optimizer state limited to the optimizer's own settings, temporary files of killed
saves removed by the next save."""
import gzip
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

from dezero import datasets as D, optimizers, serializers
from dezero.download import CorruptFileError
from dezero.models import MLP


def _built_mlp(seed=0):
    np.random.seed(seed)
    model = MLP((5, 3))
    model(np.zeros((1, 4), dtype=np.float32))
    return model


def _snapshot(model):
    return {k: p.data.copy() for k, p in model.named_params()}


def _npy_header(shape, dtype='<f4'):
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0, dtype))
    header['shape'] = shape
    buf = __import__('io').BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# load_weights: headers first
# ---------------------------------------------------------------------------
def test_zip_bomb_is_rejected_from_its_header_without_inflating(tmp_path):
    model = _built_mlp()
    good = model.save_weights(tmp_path / 'good.npz')
    bomb = tmp_path / 'bomb.npz'
    n = 48 * 2 ** 20 // 4  # 48 MB of float32 zeros, deflated to about 50 KB
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, 'w', zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            if name == 'l0/W.npy':
                with zf.open(name, 'w', force_zip64=True) as f:
                    f.write(_npy_header((n,)))
                    chunk = bytes(2 ** 22)
                    for _ in range(n * 4 // len(chunk)):
                        f.write(chunk)
            else:
                zf.writestr(name, src.read(name))
    assert os.path.getsize(bomb) < 2 ** 20
    before = _snapshot(model)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"l0/W: shape \(12582912,\) in file"):
            model.load_weights(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2 ** 20  # reading the data would take 48 MB
    for k, v in _snapshot(model).items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize('shape', [(10 ** 5, 10 ** 5), (2 ** 31, 2 ** 31, 4)])
def test_header_announcing_80_gb_is_a_clear_value_error(tmp_path, shape):
    path = tmp_path / 'huge.npz'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('l0/W.npy', _npy_header(shape) + b'\0' * 64)
    with pytest.raises(ValueError, match=r"announces shape .* holds 64 bytes"):
        _built_mlp().load_weights(path)


def test_object_arrays_and_stray_members_are_refused(tmp_path):
    path = tmp_path / 'odd.npz'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('l0/W.npy', _npy_header((2,), '|O'))
    with pytest.raises(ValueError, match='not plain numbers'):
        _built_mlp().load_weights(path)
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('evil.py', b'print(1)')
    with pytest.raises(ValueError, match="'evil.py' is not an .npy array"):
        _built_mlp().load_weights(path)


def test_read_npz_headers_reads_shapes_and_dtypes(tmp_path):
    path = serializers.save_npz_atomic(tmp_path / 'a', {'x': np.zeros((2, 3), np.float32),
                                                        'y': np.arange(4)})
    specs = serializers.read_npz_headers(path)
    assert {k: (v.shape, v.dtype) for k, v in specs.items()} == {
        'x': ((2, 3), np.dtype(np.float32)), 'y': ((4,), np.dtype(np.int64))}


# ---------------------------------------------------------------------------
# Optimizer.load_state: only the optimizer's own settings, finite numbers
# ---------------------------------------------------------------------------
def _adam_state(tmp_path, **extra):
    model = _built_mlp()
    opt = optimizers.Adam().setup(model)
    for p in model.params():
        p.grad = p * 0 + 1
    opt.update()
    path = opt.save_state(tmp_path / 'opt.npz')
    if extra:
        arrays = serializers.load_npz(path)
        arrays.update({k: np.array(v) for k, v in extra.items()})
        serializers.save_npz_atomic(path, arrays)
    return model, path


@pytest.mark.parametrize('extra, why', [
    ({'hyper/target': 3}, r"hyper/target: not a setting of Adam"),
    ({'hyper/update': 1.0}, r"hyper/update: not a setting"),
    ({'hyper/alpha': 'fast'}, r"hyper/alpha: .* expected a number"),
    ({'hyper/alpha': float('nan')}, r"hyper/alpha: nan is not a finite number"),
    ({'hyper/eps': float('inf')}, r"hyper/eps: inf is not a finite number"),
    ({'hyper/beta1': True}, r"hyper/beta1: True is not a finite number"),
    ({'scalars/t': -1}, r"scalars/t: -1 is not a count"),
    ({'scalars/t': 2.5}, r"scalars/t: 2.5 is not a count"),
    ({'state/l0/W/m': np.full((4, 5), np.nan, np.float32)}, r"l0/W/m: holds NaN"),
    ({'state/l0/W/m': np.zeros((9,), np.float32)}, r"state/l0/W/m: shape \(9,\)"),
])
def test_optimizer_state_accepts_only_its_own_finite_settings(tmp_path, extra, why):
    model, path = _adam_state(tmp_path, **extra)
    opt = optimizers.Adam().setup(model)
    before = {k: getattr(opt, k) for k in ('alpha', 'beta1', 'beta2', 'eps', 't')}
    with pytest.raises(ValueError, match=why):
        opt.load_state(path)
    assert {k: getattr(opt, k) for k in before} == before  # nothing was loaded
    assert opt.target is model and opt.state == {}


def test_optimizer_state_still_round_trips(tmp_path):
    model, path = _adam_state(tmp_path)
    opt = optimizers.Adam(alpha=0.5).setup(model)
    opt.load_state(path)
    assert opt.alpha == 0.001 and opt.t == 1 and isinstance(opt.t, int)


# ---------------------------------------------------------------------------
# killed saves
# ---------------------------------------------------------------------------
_KILLED_SAVE = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    from dezero.models import MLP
    model = MLP((5, 3)); model(np.zeros((1, 4), dtype=np.float32))
    def savez(f, **arrays):
        f.write(b'x' * 4096); f.flush()
        os.kill(os.getpid(), signal.SIGKILL)   # preempted in the middle of the save
    np.savez = savez
    model.save_weights(sys.argv[1])
''')


def test_next_save_removes_the_temporary_file_of_a_killed_save(tmp_path):
    target = tmp_path / 'w.npz'
    proc = subprocess.run([sys.executable, '-c', _KILLED_SAVE, str(target)],
                          env=os.environ.copy(), capture_output=True)
    assert proc.returncode == -9, proc.stderr
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith('.w.npz.')
    # files that only look alike are the user's: never touched
    users = ['.w.npz.backup.tmp', 'w.npz.dezero-tmp-x-1-y', '.other.npz.dezero-tmp-h-1-z.tmp']
    for name in users:
        (tmp_path / name).write_bytes(b'mine')
    _built_mlp().save_weights(target)
    assert sorted(os.listdir(tmp_path)) == sorted(users + ['w.npz'])


def test_a_live_writers_temporary_file_is_kept(tmp_path):
    live = tmp_path / f'.w.npz{serializers._TMP_MARK}{serializers._HOST}-{os.getpid()}-abc.tmp'
    live.write_bytes(b'being written')
    _built_mlp().save_weights(tmp_path / 'w.npz')
    assert live.exists()


# ---------------------------------------------------------------------------
# dataset files
# ---------------------------------------------------------------------------
def test_read_idx_size_check_does_not_overflow(tmp_path):
    path = tmp_path / 'crafted-idx3-ubyte.gz'
    header = bytes([0, 0, 0x08, 3]) + struct.pack('>3I', 2 ** 31, 2 ** 31, 4)
    path.write_bytes(gzip.compress(header))
    with pytest.raises(CorruptFileError, match=r'crafted-idx3-ubyte\.gz holds 0 bytes .* '
                                               r'announces shape \(2147483648, 2147483648, 4\)'):
        D.read_idx(str(path))


@pytest.mark.parametrize('arrays, why', [
    ({'data': np.zeros((4, 3, 32, 32), np.float32), 'labels': np.zeros(4, np.int64)},
     r'data \(4, 3, 32, 32\) float32'),
    ({'data': np.zeros((4, 3, 16, 16), np.uint8), 'labels': np.zeros(4, np.int64)},
     r'data \(4, 3, 16, 16\) uint8'),
    ({'data': np.zeros((4, 3, 32, 32), np.uint8), 'labels': np.zeros(3, np.int64)},
     r'labels \(3,\) int64, not \(4,\) int64'),
    ({'data': np.zeros((4, 3, 32, 32), np.uint8)}, 'labels missing'),
    ({'data': np.zeros((4, 3, 32, 32), np.uint8), 'labels': np.full(4, 10, np.int64)},
     r'labels outside 0\.\.9'),
])
def test_cifar_cache_of_the_wrong_shape_is_a_corrupt_file(tmp_path, monkeypatch, arrays, why):
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path))
    monkeypatch.setattr(D.CIFAR10, 'url', (tmp_path / 'absent.tar.gz').as_uri())  # no network
    path = tmp_path / 'cifar-10.train.npz'
    serializers.write_npz(path, arrays)
    with pytest.raises(CorruptFileError, match=why) as e:
        D.CIFAR10(train=True)
    assert e.value.path == str(path) and str(path) in str(e.value)
