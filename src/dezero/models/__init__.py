"""dezero.models: Model and ready-made networks."""
# --- base ---
from dezero.models.base import MLP, Model, Sequential  # noqa: F401
