// Tidy up after evaluation runs that were killed: remove every hide_follows count from users,
// in batches (see clear_hidden_follows).
MATCH (n:`User`)
WHERE n.hidden_run IS NOT NULL
CALL (n) {
  REMOVE n.hidden_run, n.hidden_in, n.hidden_out
} IN TRANSACTIONS OF $batch_size ROWS
