// Pool follows_you: the accounts that follow me and that I do not follow (back) -- the oldest
// who-to-follow signal, and on graphs where follows are mostly returned the strongest one.
// At most $max_followers of my followers are read, so a hub stays fast. Each candidate carries
// what the ranker needs to learn when to trust this pool: `returned`, the share of the
// followers read that I do follow back (how much this user reciprocates), and `unreturned`,
// how many followers I have not followed back (one of few is a stronger hint than one of
// hundreds). Not me, active; most-followed first, then uid.
// $hidden: null when serving; an evaluation run's id (graphrec/evaluation/holdout.py) when
// evaluating, and then the follows that run hides are neither walked nor counted.
// One row per uid in $uids (one user, or a batch's: a query per user costs the server and the
// driver more than its own work for a light user; docs/recommend.md, "Batch mode").
UNWIND $uids AS uid
CALL (uid) {
  MATCH (me:`User` {uid: uid})
  WITH me, COLLECT {
    MATCH (me)-[r:`FOLLOWS`]->(x)
    WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
    RETURN x
  } AS mine
  WITH me, mine, COLLECT {
    MATCH (me)<-[r:`FOLLOWS`]-(o)
    WHERE o <> me AND ($hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true))
    RETURN o
    LIMIT $max_followers
  } AS followers
  WITH mine, followers, [o IN followers WHERE NOT o IN mine] AS unreturned
  WITH size(followers) AS read, size(unreturned) AS n, unreturned
  UNWIND unreturned AS c
  WITH c, read, n,
       COUNT { (c)<-[:`FOLLOWS`]-() } - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END AS followers
  WHERE coalesce(c.active, true)
  WITH c, read, n, followers
  ORDER BY followers DESC, c.uid
  LIMIT $limit
  RETURN collect({
    uid: c.uid, returned: toFloat(read - n) / read, unreturned: n, followers: followers
  }) AS rows
}
RETURN uid, rows
