"""The models and optimizers `python -m dezero train` builds from a run's config."""
import dezero.functions as F
from dezero import models, optimizers

MODELS = ('mlp', 'cnn')
OPTIMIZERS = ('sgd', 'momentum', 'adam', 'adamw')


class SmallCNN(models.Model):
    """Two 3x3 conv + ReLU + 2x2 max-pool blocks (16 and 32 channels), then an MLP head.

    Input (N, C, H, W) with H, W >= 4; output (N, n_classes) logits.
    """

    def __init__(self, hidden, n_classes):
        super().__init__()
        import dezero.layers as L
        self.conv1 = L.Conv2d(16, 3, pad=1)
        self.conv2 = L.Conv2d(32, 3, pad=1)
        self.head = models.MLP(tuple(hidden) + (n_classes,), activation=F.relu)

    def forward(self, x):
        x = F.pooling(F.relu(self.conv1(x)), 2, stride=2)
        x = F.pooling(F.relu(self.conv2(x)), 2, stride=2)
        return self.head(F.flatten(x))


def build_model(config):
    """The model a run config describes ('model', 'hidden', 'n_classes')."""
    sizes = tuple(config['hidden'])
    if config['model'] == 'cnn':
        return SmallCNN(sizes, config['n_classes'])
    return models.MLP(sizes + (config['n_classes'],), activation=F.relu)


def build_optimizer(config, model):
    """The optimizer a run config describes ('optimizer', 'lr'), set up on model."""
    name, lr = config['optimizer'], config['lr']
    if name == 'sgd':
        opt = optimizers.SGD(lr=lr)
    elif name == 'momentum':
        opt = optimizers.MomentumSGD(lr=lr)
    elif name == 'adam':
        opt = optimizers.Adam(alpha=lr)
    elif name == 'adamw':
        opt = optimizers.AdamW(alpha=lr)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    return opt.setup(model)
