// Second half of a reset: graphrec's nodes (User, GraphrecMeta), now without relationships.
MATCH (n)
WHERE n:`User` OR n:`GraphrecMeta`
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $batch_size ROWS
