"""The models and optimizers `python -m dezero train` builds from a run's config."""
import dezero.functions as F
from dezero import models, optimizers
from dezero.models import SmallCNN

MODELS = ('mlp', 'cnn')
OPTIMIZERS = ('sgd', 'momentum', 'adam', 'adamw')


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
