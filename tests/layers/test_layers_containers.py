"""LayerList, LayerDict and Sequential built from them: registration, indexing, checkpoints."""
import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L
from dezero.models import Model, Sequential
from dezero.optimizers import SGD


class Tower(Model):
    def __init__(self):
        super().__init__()
        self.blocks = L.LayerList([L.Linear(4) for _ in range(3)])
        self.heads = L.LayerDict({'cls': L.Linear(2), 'reg': L.Linear(1)})

    def forward(self, x):
        for block in self.blocks:
            x = F.relu(block(x))
        return self.heads['cls'](x), self.heads['reg'](x)


def _run(model):
    y, z = model(np.random.RandomState(0).randn(5, 3).astype(np.float32))
    return y, z


def test_members_are_registered_so_optimizers_update_them():
    model = Tower()
    y, z = _run(model)
    assert [k for k, _ in model.named_params()] == [
        'blocks/0/W', 'blocks/0/b', 'blocks/1/W', 'blocks/1/b', 'blocks/2/W', 'blocks/2/b',
        'heads/cls/W', 'heads/cls/b', 'heads/reg/W', 'heads/reg/b']
    before = model.blocks[0].W.data.copy()
    (F.sum(y) + F.sum(z)).backward()
    SGD(0.1).setup(model).update()
    assert not np.array_equal(before, model.blocks[0].W.data)


def test_save_and_load_weights_round_trip(tmp_path):
    a, b = Tower(), Tower()
    _run(a)
    path = a.save_weights(tmp_path / 'tower')
    b.load_weights(path)
    for (ka, pa), (kb, pb) in zip(a.named_params(), b.named_params()):
        assert ka == kb
        np.testing.assert_array_equal(pa.data, pb.data)


def test_layer_list_behaves_like_a_list():
    layers = [L.Linear(i + 1) for i in range(4)]
    ll = L.LayerList(layers[:2])
    ll.append(layers[2])
    ll.extend([layers[3]])
    assert len(ll) == 4 and list(ll) == layers
    assert ll[-1] is layers[3] and ll[1] is layers[1]
    assert list(ll[1:3]) == layers[1:3]
    new = L.Linear(9)
    ll[0] = new
    assert ll[0] is new and ll.__dict__['0'] is new
    ll.insert(1, layers[0])
    assert [ly.out_size for ly in ll] == [9, 1, 2, 3, 4]
    del ll[0]
    assert [ly.out_size for ly in ll] == [1, 2, 3, 4]
    assert sorted(ll._params, key=int) == ['0', '1', '2', '3']


def test_layer_dict_behaves_like_a_dict():
    a, b, c = L.Linear(1), L.Linear(2), L.Linear(3)
    d = L.LayerDict({'a': a})
    d['b'] = b
    d.update([('c', c)])
    assert d.keys() == ['a', 'b', 'c'] and d.values() == [a, b, c]
    assert d.items() == [('a', a), ('b', b), ('c', c)]
    assert 'b' in d and 'z' not in d and len(d) == 3 and list(d) == ['a', 'b', 'c']
    del d['b']
    assert d.keys() == ['a', 'c']
    with pytest.raises(KeyError):
        d['b']


@pytest.mark.parametrize('make,error,message', [
    (lambda: L.LayerList([L.Linear(2), F.relu]), TypeError,
     r'LayerList.append: members must be Layers'),
    (lambda: L.LayerList(L.Linear(2)), TypeError, r'wrap it in a list'),
    (lambda: L.LayerList([L.Linear(2)])['0'], TypeError, r'indices must be integers'),
    (lambda: L.LayerList([L.Linear(2)])[1], IndexError, r'index 1 is out of range for 1'),
    (lambda: L.LayerDict({1: L.Linear(2)}), TypeError, r'keys must be strings'),
    (lambda: L.LayerDict({'params': L.Linear(2)}), ValueError, r"key 'params' cannot name"),
    (lambda: L.LayerDict({'a/b': L.Linear(2)}), ValueError, r"key 'a/b' cannot name"),
    (lambda: L.LayerDict({'a': np.zeros(2)}), TypeError, r'LayerDict: members must be Layers'),
    (lambda: L.LayerList([L.Linear(2)])(np.zeros((1, 2))), TypeError,
     r'LayerList is not callable'),
    (lambda: L.LayerDict({'a': L.Linear(2)})(np.zeros((1, 2))), TypeError,
     r'LayerDict is not callable'),
])
def test_bad_use_is_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_sequential_accepts_layer_list_and_dict():
    x = np.ones((2, 3), np.float32)
    flat = Sequential(L.Linear(4), F.relu, L.Linear(2))
    from_list = Sequential(L.LayerList([L.Linear(4)]), F.relu, [L.Linear(2)])
    np.random.seed(0)  # the weights are drawn on the first call
    y_flat = flat(x)
    np.random.seed(0)
    np.testing.assert_array_equal(y_flat.data, from_list(x).data)
    assert [k for k, _ in from_list.named_params()] == ['l0/W', 'l0/b', 'l2/W', 'l2/b']
    named = Sequential(L.LayerDict({'enc': L.Linear(4), 'dec': L.Linear(2)}))
    assert named(x).shape == (2, 2)
    assert [k for k, _ in named.named_params()] == ['enc/W', 'enc/b', 'dec/W', 'dec/b']
    with pytest.raises(ValueError, match=r"key 'forward' cannot name"):
        Sequential({'forward': L.Linear(2)})
