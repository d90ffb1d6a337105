// Pool 4, popular: the $limit most-followed active accounts (the caller caches this list and
// removes the user's own follows, so it is one scan per process, not per request).
MATCH (c:`User`)
WHERE coalesce(c.active, true)
WITH c, COUNT { (c)<-[:`FOLLOWS`]-() } AS followers
WHERE followers > 0
RETURN c.uid AS uid, followers
ORDER BY followers DESC, uid
LIMIT $limit
