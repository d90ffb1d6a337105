// Tidy up after evaluation runs that were killed: remove every hide_follows mark from FOLLOWS,
// in batches. Such marks hide nothing from anyone (each names a run that no longer exists);
// the caller holds the evaluation lock, so no run is using them.
MATCH (:`User`)-[r:`FOLLOWS`]->(:`User`)
WHERE r.hidden_by IS NOT NULL
CALL (r) {
  REMOVE r.hidden_by
} IN TRANSACTIONS OF $batch_size ROWS
