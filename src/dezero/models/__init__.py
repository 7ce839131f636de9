"""dezero.models: Model and ready-made networks."""
# --- base ---
from dezero.models.base import MLP, Model, Sequential  # noqa: F401
# --- cnn ---
from dezero.models.vgg import VGG16  # noqa: F401
from dezero.models.resnet import ResNet, ResNet50, ResNet101, ResNet152  # noqa: F401
from dezero.models.squeezenet import SqueezeNet  # noqa: F401
