"""Optimizer state files: the npz encoding of Optimizer.state_dict()."""
import numpy as np

from dezero.serializers.files import (
    _read_arrays,
    read_npz_headers,
    resolve_npz_path,
    save_npz_atomic,
)


def save_optimizer_state(optimizer, path):
    """Write optimizer.state_dict() to an .npz atomically (".npz" added if missing); return it."""
    sd = optimizer.state_dict()
    arrays = {'__type__': np.array(sd['type'])}
    for k, v in sd['hyper'].items():
        arrays['hyper/' + k] = np.array(v)
    for k, v in sd['scalars'].items():
        arrays['scalars/' + k] = np.array(v)
    for p, st in sd['state'].items():
        for name, arr in st.items():
            arrays['state/' + p + '/' + name] = arr
    for i, sched in enumerate(sd.get('schedulers', ())):
        for k, v in sched.items():
            arrays[f'schedulers/{i}/{k}'] = np.array(v)
    return save_npz_atomic(path, arrays)


def load_optimizer_state(optimizer, path):
    """Read an .npz written by save_optimizer_state and load_state_dict() it into optimizer."""
    path = resolve_npz_path(path)
    who = f"{type(optimizer).__name__}.load_state"
    specs = read_npz_headers(path, who=who)
    if '__type__' not in specs:
        raise ValueError(f"{who}: {path!r} is not an optimizer state file (no __type__).")
    params = (dict(optimizer.target.named_params()) if optimizer.target is not None else {})
    problems = []
    for key, spec in specs.items():
        section, _, rest = key.partition('/')
        if key == '__type__' or section in ('hyper', 'scalars'):
            if spec.shape != () or (key == '__type__') != (spec.dtype.kind == 'U'):
                problems.append(f"{key}: {spec.dtype} of shape {spec.shape}, expected a "
                                + ("name" if key == '__type__' else "number"))
        elif section == 'state':
            p = params.get(rest.rpartition('/')[0])
            if p is not None and p.data is not None and spec.shape != p.data.shape:
                problems.append(f"{key}: shape {spec.shape}, parameter has {p.data.shape}")
            if spec.dtype.kind not in 'biuf':
                problems.append(f"{key}: {spec.dtype} is not a numeric array")
    if problems:
        raise ValueError(f"{who}: {path!r} does not fit {type(optimizer).__name__} (nothing was "
                         "loaded): " + '; '.join(problems))
    arrays = _read_arrays(path, list(specs), who)
    sd = {'type': str(arrays.pop('__type__')), 'hyper': {}, 'scalars': {}, 'state': {}}
    scheds = {}
    for key, arr in arrays.items():
        section, _, rest = key.partition('/')
        if section in ('hyper', 'scalars'):
            sd[section][rest] = arr.item()
        elif section == 'state':
            p, _, name = rest.rpartition('/')
            sd['state'].setdefault(p, {})[name] = arr
        elif section == 'schedulers':
            i, _, name = rest.partition('/')
            scheds.setdefault(int(i), {})[name] = arr.item()
        else:
            raise ValueError(f"{who}: unexpected key {key!r} in {path!r}.")
    if scheds:
        sd['schedulers'] = [scheds[i] for i in sorted(scheds)]
    optimizer.load_state_dict(sd)
