"""dezero.datasets (being written)."""
