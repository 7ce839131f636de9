"""dezero.layers (imported as L): Layer and the layers built on it."""
from dezero.layers.base import Layer  # noqa: F401
