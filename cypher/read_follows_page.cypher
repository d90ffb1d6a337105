// One page of the follow graph for training/embedding: the next $limit users by uid after
// $after (index-backed order), each with the uids it follows (an empty list if none).
MATCH (u:`User`)
WHERE u.uid > $after
WITH u
ORDER BY u.uid ASC
LIMIT $limit
OPTIONAL MATCH (u)-[:`FOLLOWS`]->(f:`User`)
RETURN u.uid AS uid, collect(f.uid) AS fids
