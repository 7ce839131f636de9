"""dezero.models: Model and ready-made networks."""
