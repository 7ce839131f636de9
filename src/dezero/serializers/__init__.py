"""dezero.serializers: every file dezero writes or reads back, in one place.

- Atomic output: `atomic_path`, `write_text`, `write_npz` (a temporary file
  beside the target, then os.replace, so a crash never leaves half a file).
- Weights: `save_weights(layer, path)` / `load_weights(layer, path)`, an .npz
  keyed by attribute path ("l0/W", "bn/avg_mean"), validated header-first and
  loaded all-or-nothing. `Layer.save_weights` / `Layer.load_weights` call these;
  `state_dict(layer)` / `load_state_dict(layer, state, strict=True)` are the same in
  memory (Layer.state_dict / load_state_dict), sharing load_arrays' validation.
- Optimizer state: `save_optimizer_state(opt, path)` / `load_optimizer_state`,
  the npz encoding of `Optimizer.state_dict()`.
- Dataset caches: `load_array_cache(path, keys)` / `save_array_cache(path, arrays)`,
  parsed-data caches that are rebuilt when damaged.

This module sits below layers and optimizers (it never imports them): it walks
a layer tree through `layer._walk()` (path, owner, name, Variable, is_buffer) and
the layer's `lazy_spec` / `_built_from_checkpoint` hooks.
"""
# The package's names, and (for code written before the split into modules) the private
# helpers that lived here.
from dezero.serializers.files import (
    _FILE_MODE, _HOST, _STALE_AGE, _TMP_MARK, ArraySpec, _checked_path, _pid_alive,
    _read_arrays, _umask, atomic_path, load_npz, read_npz_headers, remove_stale_temporaries,
    resolve_npz_path, save_npz_atomic, write_npz, write_text)
from dezero.serializers.safetensors_format import (
    _ST_DTYPES, _ST_HEADER_LIMIT, SAFETENSORS_EXTRA, _is_safetensors, _read_safetensors,
    _safetensors_numpy, from_safetensors_key, read_safetensors_headers, save_safetensors,
    to_safetensors_key)
from dezero.serializers.weights import (
    LoadResult, _compare, _layer_arrays, _params_then_buffers, load_arrays, load_state_dict,
    load_weights, save_weights, state_dict)
from dezero.serializers.optimizer_state import load_optimizer_state, save_optimizer_state
from dezero.serializers.caches import load_array_cache, save_array_cache
