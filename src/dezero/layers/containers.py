"""LayerList and LayerDict: containers that register the layers they hold.

A plain Python list or dict of layers stored on a Layer is invisible to params(),
so an optimizer would silently train nothing. These containers register every
member as a sub-layer (list members under "0", "1", ...; dict members under their
keys), so params(), save_weights/load_weights and to_gpu see them. Checkpoint
keys look like "blocks/0/W" or "heads/cls/W".
"""
from dezero.layers.base import Layer

_RESERVED = frozenset({'inputs', 'outputs'})


def _check_layer(who, layer):
    if not isinstance(layer, Layer):
        raise TypeError(f"{who}: members must be Layers, got {type(layer).__name__}; wrap "
                        "plain functions in a Layer (or use Sequential, which takes callables).")
    return layer


class LayerList(Layer):
    """A list of Layers registered as sub-layers "0", "1", ... (PyTorch's nn.ModuleList).

    Indexable (negative indices and slices too), iterable, sized; append, extend,
    insert and item assignment keep the registration in step. A LayerList only
    holds layers: iterate over it in your own forward, or pass it to Sequential.

    Args:
        layers: an iterable of Layers (optional).
    """

    def __init__(self, layers=()):
        super().__init__()
        object.__setattr__(self, '_items', [])
        self.extend(layers)

    def _sync(self):
        # Re-register every member under its current index.
        for name in list(self._params):
            object.__delattr__(self, name)
        self._params.clear()
        for i, layer in enumerate(self._items):
            setattr(self, str(i), layer)

    def append(self, layer):
        """Add a layer at the end; returns self."""
        self._items.append(_check_layer('LayerList.append', layer))
        setattr(self, str(len(self._items) - 1), layer)
        return self

    def extend(self, layers):
        """Append every layer of an iterable; returns self."""
        if isinstance(layers, Layer) and not isinstance(layers, LayerList):
            raise TypeError("LayerList: expected an iterable of Layers, got a single "
                            f"{type(layers).__name__}; wrap it in a list: LayerList([layer]).")
        for layer in layers:
            self.append(layer)
        return self

    def insert(self, index, layer):
        """Insert a layer before `index` (renumbering the ones after it)."""
        self._items.insert(index, _check_layer('LayerList.insert', layer))
        self._sync()

    def _index(self, index):
        n = len(self._items)
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"LayerList indices must be integers or slices, got "
                            f"{type(index).__name__}.")
        if not -n <= index < n:
            raise IndexError(f"LayerList index {index} is out of range for {n} layers.")
        return index % n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return LayerList(self._items[index])
        return self._items[self._index(index)]

    def __setitem__(self, index, layer):
        i = self._index(index)
        self._items[i] = _check_layer('LayerList', layer)
        setattr(self, str(i), layer)

    def __delitem__(self, index):
        if isinstance(index, slice):
            del self._items[index]
        else:
            del self._items[self._index(index)]
        self._sync()

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items))

    def forward(self, *inputs):
        raise TypeError("LayerList is not callable: iterate over it in your forward "
                        "(for layer in self.blocks: x = layer(x)) or use Sequential(layer_list).")


class LayerDict(Layer):
    """A dict of Layers registered as sub-layers under their keys (PyTorch's nn.ModuleDict).

    Keys are strings usable as checkpoint path parts: not empty, without '/', not
    starting with '_' and not the name of a Layer attribute (such as 'params').
    Insertion order is kept. Supports d[key], d[key] = layer, del d[key], `in`,
    len, iteration over keys, keys(), values(), items() and update().

    Args:
        mapping: a dict (or iterable of (key, layer) pairs) of Layers (optional).
    """

    def __init__(self, mapping=None):
        super().__init__()
        if mapping is not None:
            self.update(mapping)

    def _check_key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"LayerDict keys must be strings, got {type(key).__name__} "
                            f"({key!r}).")
        if not key or '/' in key or key.startswith('_') or key in _RESERVED \
                or hasattr(type(self), key):
            raise ValueError(f"LayerDict: key {key!r} cannot name a sub-layer (empty, contains "
                             "'/', starts with '_' or is a Layer attribute); choose another.")
        return key

    def __getitem__(self, key):
        if key not in self._params:
            raise KeyError(key)
        return self.__dict__[key]

    def __setitem__(self, key, layer):
        setattr(self, self._check_key(key), _check_layer('LayerDict', layer))

    def __delitem__(self, key):
        if key not in self._params:
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key):
        return key in self._params

    def __len__(self):
        return len(self._params)

    def __iter__(self):
        return iter(list(self._params))

    def keys(self):
        """The keys, in insertion order."""
        return list(self._params)

    def values(self):
        """The layers, in insertion order."""
        return [self.__dict__[k] for k in self._params]

    def items(self):
        """(key, layer) pairs, in insertion order."""
        return [(k, self.__dict__[k]) for k in self._params]

    def update(self, mapping):
        """Add or replace layers from a dict or an iterable of (key, layer) pairs."""
        pairs = mapping.items() if hasattr(mapping, 'items') else mapping
        for key, layer in pairs:
            self[key] = layer

    def forward(self, *inputs):
        raise TypeError("LayerDict is not callable: pick its layers by key in your forward "
                        "(self.heads['cls'](x)).")
