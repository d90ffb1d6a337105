"""``graphrec recommend``: who to follow."""

COMMANDS: list = []
