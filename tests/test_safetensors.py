"""save_weights/load_weights with a .safetensors path: round trip, validation, the format."""
import os
import sys

import numpy as np
import pytest

import dezero.layers as L
from dezero import models

st = pytest.importorskip('safetensors.numpy', reason="safetensors files need the safetensors "
                                                     "package (pip install 'dezero[safetensors]')")


class Net(models.Model):
    def __init__(self):
        super().__init__()
        self.conv = L.Conv2d(4, 3, pad=1)
        self.bn = L.BatchNorm()
        self.fc = L.Linear(3)

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.fc(x.reshape(x.shape[0], -1))


def built(seed):
    np.random.seed(seed)
    model = Net()
    model(np.random.randn(2, 1, 4, 4).astype(np.float32))  # training mode: running stats move
    return model


def test_round_trip_restores_every_parameter_and_buffer(tmp_path):
    path = str(tmp_path / 'w.safetensors')
    src = built(0)
    assert src.save_weights(path) == path
    dst = Net()  # lazy: built from the file
    dst.load_weights(path)
    want, got = src.state_dict(), dst.state_dict()
    assert sorted(want) == sorted(got)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
        assert got[k].dtype == want[k].dtype


def test_safetensors_reads_dezeros_file_with_dotted_keys(tmp_path):
    path = str(tmp_path / 'w.safetensors')
    model = built(1)
    model.save_weights(path)
    tensors = st.load_file(path)
    want = {k.replace('/', '.'): v for k, v in model.state_dict().items()}
    assert sorted(tensors) == sorted(want)
    assert 'fc.W' in tensors and 'bn.avg_mean' in tensors
    assert tensors['fc.W'].shape == model.fc.W.shape  # dezero's (in, out) layout, as stored
    for k, v in want.items():
        np.testing.assert_array_equal(tensors[k], v)


def test_file_written_by_safetensors_itself_loads(tmp_path):
    model = built(2)
    path = str(tmp_path / 'ext.safetensors')
    st.save_file({k.replace('/', '.'): v for k, v in built(3).state_dict().items()}, path)
    model.load_weights(path)
    np.testing.assert_array_equal(model.fc.W.data, built(3).fc.W.data)


@pytest.mark.parametrize('change,message', [
    (lambda d: d.pop('fc.b'), r"missing keys \['fc/b'\]"),
    (lambda d: d.update(extra=np.zeros(1, np.float32)), r"unexpected keys \['extra'\]"),
    (lambda d: d.update({'fc.W': d['fc.W'].T.copy()}), r'fc/W: shape'),
    (lambda d: d.update({'fc.b': d['fc.b'].astype(np.float64)}), r'fc/b: dtype float64'),
])
def test_mismatch_loads_nothing(change, message, tmp_path):
    model = built(4)
    before = model.state_dict()
    tensors = {k.replace('/', '.'): v for k, v in built(5).state_dict().items()}
    change(tensors)
    path = str(tmp_path / 'bad.safetensors')
    st.save_file(tensors, path)
    with pytest.raises(ValueError, match=message):
        model.load_weights(path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize('damage', [
    lambda b: b[:5],                                  # no complete header length
    lambda b: (10 ** 9).to_bytes(8, 'little') + b[8:],  # header longer than the file
    lambda b: b[:8] + b'{not json' + b[17:],
    lambda b: b[:-10],                                # tensor data cut short
])
def test_damaged_file_raises_valueerror_naming_it(damage, tmp_path):
    path = tmp_path / 'w.safetensors'
    built(6).save_weights(str(path))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match='w.safetensors'):
        Net().load_weights(str(path))


def test_unsupported_dtype_is_named(tmp_path):
    import json
    header = json.dumps({'fc.W': {'dtype': 'BF16', 'shape': [1], 'data_offsets': [0, 2]}})
    header += ' ' * (-len(header) % 8)
    path = tmp_path / 'bf16.safetensors'
    path.write_bytes(len(header).to_bytes(8, 'little') + header.encode() + b'\0\0')
    with pytest.raises(ValueError, match='BF16'):
        Net().load_weights(str(path))


def test_save_is_atomic_and_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / 'w.safetensors'
    path.write_bytes(b'old')
    with pytest.raises(ValueError, match='not been'):
        Net().save_weights(str(path))  # unbuilt lazy parameters
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['w.safetensors']


def test_missing_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'safetensors.numpy', None)
    monkeypatch.setitem(sys.modules, 'safetensors', None)
    with pytest.raises(ImportError, match=r"pip install 'dezero\[safetensors\]'"):
        built(7).save_weights(str(tmp_path / 'w.safetensors'))
