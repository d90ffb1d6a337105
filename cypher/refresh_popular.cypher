// Compute the $limit most-followed active accounts (as pool_popular) and keep them on the
// metadata node {key: $key}, so that a request reads one node instead of counting the
// followers of every user. `load` runs this after every load; a hand-made change to
// User.active reaches the cached list at the next load.
CALL () {
  MATCH (c:`User`)
  WHERE coalesce(c.active, true)
  WITH c, COUNT { (c)<-[:`FOLLOWS`]-() } AS followers
  WHERE followers > 0
  RETURN c.uid AS uid, followers
  ORDER BY followers DESC, uid
  LIMIT $limit
}
WITH collect(uid) AS uids, collect(followers) AS followers
MERGE (m:`GraphrecMeta` {key: $key})
SET m.uids = uids, m.followers = followers, m.size = $limit, m.computed_at = datetime()
