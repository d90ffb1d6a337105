// Second half of a reset, one page per call: up to $batch_size of graphrec's nodes (User,
// GraphrecMeta) with whatever relationships they still have; the caller repeats it until none
// is left (see delete_relationships_page for why not one statement).
MATCH (n)
WHERE n:`User` OR n:`GraphrecMeta`
WITH n
LIMIT $batch_size
DETACH DELETE n
RETURN count(*) AS deleted
