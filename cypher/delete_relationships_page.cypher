// First half of a reset, one page per call: up to $batch_size of the relationships graphrec
// creates, deleted in the caller's transaction; the caller repeats it until none is left.
// One statement over them all (MATCH ... CALL { DELETE r } IN TRANSACTIONS) is planned with an
// Eager that holds every relationship in memory first, past the transaction memory limit on a
// large graph. The type scan starts each page at the first relationship still there.
MATCH ()-[r:`FOLLOWS`|`BLOCKS`|`DISMISSED`|`SHOWN`|`HELDOUT`]->()
WITH r
LIMIT $batch_size
DELETE r
RETURN count(*) AS deleted
