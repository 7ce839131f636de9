"""The multi-node optimizer: any dezero optimizer whose update() first averages the
gradients over the ranks."""


class MultiNodeOptimizer:
    """Wraps an optimizer: update() averages the gradients over the ranks, then updates.

    Everything else (hyperparameters such as lr, add_hook, state_dict, save_state,
    load_state, target) is the wrapped optimizer's, so hooks (WeightDecay, ClipGrad)
    see the averaged gradients and the state files are those of the wrapped optimizer.
    The first update() broadcasts rank 0's parameters first (like ChainerMN), so that
    models built lazily on their first call start equal; call comm.bcast_data(model)
    yourself before training when the first step must already be exact.
    Learning-rate schedulers take the wrapped optimizer: create them before wrapping
    it, or on `optimizer.actual_optimizer`.
    Create it with create_multi_node_optimizer().
    """

    def __init__(self, actual_optimizer, communicator):
        object.__setattr__(self, 'actual_optimizer', actual_optimizer)
        object.__setattr__(self, 'communicator', communicator)
        object.__setattr__(self, 'needs_broadcast', True)

    def setup(self, target):
        """Set the wrapped optimizer up on target; the next update() broadcasts it first."""
        self.actual_optimizer.setup(target)
        object.__setattr__(self, 'needs_broadcast', True)
        return self

    def update(self):
        """Broadcast the weights (first call only), average the gradients, then update."""
        target = self.actual_optimizer.target
        if target is None:
            raise RuntimeError(f"{type(self).__name__}.update: the wrapped "
                               f"{type(self.actual_optimizer).__name__} is not set up; call "
                               "setup(model) first.")
        if self.needs_broadcast:
            self.communicator.bcast_data(target)
            object.__setattr__(self, 'needs_broadcast', False)
        self.communicator.allreduce_grad(target)
        self.actual_optimizer.update()

    def __getattr__(self, name):
        return getattr(self.actual_optimizer, name)

    def __setattr__(self, name, value):
        setattr(self.actual_optimizer, name, value)

    def __repr__(self):
        return f"MultiNodeOptimizer({self.actual_optimizer!r}, {self.communicator!r})"


def create_multi_node_optimizer(actual_optimizer, communicator):
    """Wrap any dezero optimizer so that update() first averages gradients over the ranks."""
    if not hasattr(actual_optimizer, 'update') or not hasattr(actual_optimizer, 'setup'):
        raise TypeError(f"create_multi_node_optimizer: expected a dezero optimizer, got "
                        f"{type(actual_optimizer).__name__}.")
    if not hasattr(communicator, 'allreduce_grad'):
        raise TypeError(f"create_multi_node_optimizer: expected a communicator from "
                        f"create_communicator(), got {type(communicator).__name__}.")
    return MultiNodeOptimizer(actual_optimizer, communicator)
