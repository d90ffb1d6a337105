// Repair a graph that an older graphrec left mid-evaluation: it moved held-out follows to
// HELDOUT relationships (same properties). Every one becomes a FOLLOWS again, in batches.
MATCH (a:`User`)-[h:`HELDOUT`]->(b:`User`)
CALL (a, h, b) {
  MERGE (a)-[r:`FOLLOWS`]->(b)
  SET r = properties(h)
  DELETE h
} IN TRANSACTIONS OF $batch_size ROWS
