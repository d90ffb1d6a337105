// Pool 4, popular: the $limit most-followed active accounts (the caller caches this list and
// removes the user's own follows, so it is one scan per process, not per request).
// $hidden: null when serving; an evaluation run's id (graphrec/evaluation/holdout.py) when
// evaluating, and then the follows that run hides are not counted.
MATCH (c:`User`)
WHERE coalesce(c.active, true)
WITH c, COUNT { (c)<-[:`FOLLOWS`]-() }
     - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END
     AS followers
WHERE followers > 0
RETURN c.uid AS uid, followers
ORDER BY followers DESC, uid
LIMIT $limit
