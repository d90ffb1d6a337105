// First half of a reset: every relationship touching graphrec's nodes, in batches, so dense
// nodes (thousands of follows carrying vectors) never make one transaction too big.
MATCH (n)-[r]-()
WHERE n:`User` OR n:`GraphrecMeta`
CALL (r) { DELETE r } IN TRANSACTIONS OF $batch_size ROWS
