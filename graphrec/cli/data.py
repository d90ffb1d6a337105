"""``graphrec load|generate|stats|reset``: getting the follow graph in and looking at it."""

COMMANDS: list = []
