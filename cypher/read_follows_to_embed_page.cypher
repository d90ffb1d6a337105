// One page of the follows `embed` still has to write: the next $limit users by uid after
// $after, each with the uids it follows whose FOLLOWS has no embedding or one from another
// model than $model (r.embedding_model). A user with nothing to write returns an empty list,
// so the caller can page on.
MATCH (u:`User`)
WHERE u.uid > $after
WITH u
ORDER BY u.uid ASC
LIMIT $limit
OPTIONAL MATCH (u)-[r:`FOLLOWS`]->(f:`User`)
WHERE r.embedding IS NULL OR r.embedding_model IS NULL OR r.embedding_model <> $model
RETURN u.uid AS uid, collect(f.uid) AS fids
