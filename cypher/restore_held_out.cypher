// Undo hold_out_follows: every HELDOUT relationship becomes a FOLLOWS again (same properties),
// in batches. Safe to run at any time; it also repairs an interrupted evaluation.
MATCH (a:`User`)-[h:`HELDOUT`]->(b:`User`)
CALL (a, h, b) {
  MERGE (a)-[r:`FOLLOWS`]->(b)
  SET r = properties(h)
  DELETE h
} IN TRANSACTIONS OF $batch_size ROWS
