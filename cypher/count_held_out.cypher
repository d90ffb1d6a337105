// HELDOUT relationships an older graphrec left behind (see restore_held_out).
MATCH (:`User`)-[h:`HELDOUT`]->(:`User`)
RETURN count(h) AS held_out
