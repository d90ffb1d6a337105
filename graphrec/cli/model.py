"""``graphrec train|evaluate|embed``: the NeuMF model."""

COMMANDS: list = []
