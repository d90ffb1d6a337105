// Tests only: take the write lock on one user, held until the transaction ends.
MATCH (n:`User` {uid: $uid})
SET n.locked_by_test = true
