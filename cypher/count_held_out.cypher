// How many follows are currently held out (HELDOUT relationships) by an evaluation.
MATCH (:`User`)-[h:`HELDOUT`]->(:`User`)
RETURN count(h) AS held_out
