"""The arrays of a model in a fixed order, their signature checks and their packing plan.

Every collective operation of a communicator first agrees on a signature (path, shape,
dtype per array) across the ranks, then moves the arrays packed by a _Plan into one
flat buffer per (dtype, array module).
"""
import hashlib

import numpy as np

from dezero import cuda


def _unique_params(model):
    """[(path, Parameter)] in the model's order, a shared Parameter listed once."""
    if not hasattr(model, 'named_params'):
        raise TypeError(f"dezero.distributed: expected a Layer or Model, got "
                        f"{type(model).__name__}.")
    out, seen = [], set()
    for path, p in model.named_params():
        if id(p) not in seen:
            seen.add(id(p))
            out.append((path, p))
    return out


def _persistent_arrays(model):
    """[(path, holder Variable)]: every Parameter, then every buffer (BatchNorm statistics)."""
    out = _unique_params(model)
    named_buffers = getattr(model, 'named_buffers', None)
    if named_buffers is not None:
        out += [(path, layer.__dict__[name]) for path, layer, name in named_buffers()]
    return out


def _signature(holders):
    """(path, shape, dtype) per array; shape and dtype None for an array not built yet."""
    return tuple((path, None, None) if v.data is None else
                 (path, tuple(v.data.shape), v.data.dtype.str) for path, v in holders)


def _fingerprint(signature):
    """A 62-bit number equal on every rank for equal signatures (hash() is salted per process)."""
    digest = hashlib.blake2b(repr(signature).encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'little') >> 2


def _show(entry):
    _, shape, dtype = entry
    return 'not built yet' if shape is None else f"shape {shape} {np.dtype(dtype)}"


def _difference(mine, theirs):
    """A short description of how two signatures differ (first few differences)."""
    a = {e[0]: e for e in mine}
    b = {e[0]: e for e in theirs}
    problems = []
    missing = [p for p in a if p not in b]
    extra = [p for p in b if p not in a]
    if missing:
        problems.append(f"only on rank 0: {missing[:5]}")
    if extra:
        problems.append(f"missing on rank 0: {extra[:5]}")
    for path, entry in a.items():
        if path in b and entry != b[path]:
            problems.append(f"{path}: {_show(entry)} vs {_show(b[path])}")
    if not problems and [e[0] for e in mine] != [e[0] for e in theirs]:
        problems.append("the same arrays registered in a different order")
    head = f"{len(mine)} vs {len(theirs)} arrays"
    return head + ('; ' + '; '.join(problems[:6]) if problems else '')


class _Plan:
    """How a list of arrays is packed into one flat buffer per (dtype, array module)."""

    def __init__(self, holders):
        groups = {}
        for index, (_, v) in enumerate(holders):
            if v.data is None:
                continue
            xp = cuda.get_array_module(v.data)
            groups.setdefault((v.data.dtype, xp), []).append(index)
        self.groups = []  # (dtype, xp, [(index, offset, size, shape)], total)
        for (dtype, xp), indices in groups.items():
            items, offset = [], 0
            for index in indices:
                data = holders[index][1].data
                items.append((index, offset, data.size, data.shape))
                offset += data.size
            self.groups.append((dtype, xp, items, offset))
        self.buffers = None  # allocated on first use, then reused
        self.targets = None  # allreduce_grad's buffers or SharedReducers, one per group
        self.views = {}  # parameter index -> its slice of a shared input segment

    def get_buffers(self, extra=0):
        """One flat buffer per group, with `extra` more elements at the end."""
        if self.buffers is None:
            self.buffers = [xp.empty(total + extra * len(items), dtype=dtype)
                            for dtype, xp, items, total in self.groups]
        return self.buffers

