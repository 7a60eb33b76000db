"""Training code that runs inside the PyTorchJob pods trainq submits (one package per algorithm)."""
