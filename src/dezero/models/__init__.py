"""dezero.models: Model and ready-made networks."""
# --- base ---
from dezero.models.base import MLP, Model, Sequential
from dezero.models.small import SmallCNN
# --- cnn ---
from dezero.models.vgg import VGG16
from dezero.models.resnet import ResNet, ResNet50, ResNet101, ResNet152
from dezero.models.squeezenet import SqueezeNet
