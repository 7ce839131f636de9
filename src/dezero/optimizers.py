"""dezero.optimizers (being written)."""
