// Deletes every node graphrec owns (User, GraphrecMeta) with its relationships, in batches,
// so a multi-million-relationship graph does not need one huge transaction.
MATCH (n)
WHERE n:`User` OR n:`GraphrecMeta`
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $batch_size ROWS
