"""dezero.optimizers: Optimizer, its hooks, SGD ... Adam, AdamW, RMSprop, and (defined in
dezero.schedulers, re-exported here) the learning-rate schedulers StepLR, ExponentialLR,
CosineAnnealingLR, ReduceLROnPlateau.

An optimizer is set up on a Layer (`opt = SGD().setup(model)`), then each
`opt.update()` walks `model.params()`, skips Parameters whose grad is None,
runs the hooks on the remaining list, and updates each parameter in place
(param.data keeps its array, dtype and array module; hyperparameters are
Python floats, which NumPy/CuPy treat as weak scalars, so float32 stays float32).

State (momenta, moments, step counts) is kept per Parameter object.
`state_dict()` returns it keyed by the parameter's path in the target ("l0/W"),
so it survives being loaded into a fresh model and optimizer with
`load_state_dict()`; `save_state(path)` / `load_state(path)` put it in an .npz
atomically. Resuming from a checkpoint gives bit-identical parameters.
"""
from dezero.optimizers._checks import (  # noqa: F401 (the helpers' old home)
    _BETA,
    _EPS,
    _LR,
    _hyper_problem,
    _is_number,
    _scheduler_state_problems,
)
from dezero.optimizers.algorithms import (  # noqa: F401
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    AdamW,
    MomentumSGD,
    RMSprop,
)
from dezero.optimizers.base import Optimizer  # noqa: F401
from dezero.optimizers.hooks import ClipGrad, FreezeParam, WeightDecay  # noqa: F401
from dezero.schedulers import (  # noqa: F401 (re-exported: the schedulers' public home)
    CosineAnnealingLR,
    ExponentialLR,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)
