// Pool 3, followers of followees (co-follower collaborative filtering): the other followers o
// of the accounts f in $via (at most $max_followers per account), weighted by how many of them
// they share with me (shared), the top $max_cofollowers of them, and the accounts they follow
// (at most $max_out each). A candidate is either such a co-follower (cofollow = shared) or an
// account they follow: paths = sum of its followers' shared counts (co-follow counts with my
// followees), cosine = the same sum with each shared f weighted 1/sqrt(followers(f)), divided
// by sqrt(followers(c)) -- item-to-item cosine similarity, which stops hubs from winning on
// size alone; rp3 = the same sum with each co-follower's path also weighted
// 1/sqrt(its out-degree): RP3beta's three-step random walk me -> f -> o -> c (alpha 1/2,
// beta 1/2), read over the bounded neighbourhood. Not followed by me, not me, active. My
// follows are read once into a list (`mine`): testing membership in it is far cheaper than
// one (me)-[:FOLLOWS]->(c) pattern check per candidate.
// Speed (slashdot0902): thousands of candidates reach the cut, so nothing before it reads a
// property of c (ties are broken by uid only among the $limit kept; `active` is checked on
// those too, which may leave a few fewer), and a user's result is one row holding a list: the
// driver's cost per record would otherwise exceed the query's own work.
// $via null: all my followees if I have at most $max_followees, else nothing (as pool 2);
// a list of uids serves every user in $uids alike (the caller gives it with one user).
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
  WHERE $via IS NOT NULL OR size(mine) <= $max_followees
  UNWIND coalesce($via, [x IN mine | x.uid]) AS v
  MATCH (f:`User` {uid: v})
  WITH me, mine, f,
       1.0 / sqrt(toFloat(COUNT { (f)<-[:`FOLLOWS`]-() }
         - CASE WHEN $hidden IS NOT NULL AND f.hidden_run = $hidden THEN f.hidden_in ELSE 0 END)) AS fw
  CALL (me, f) {
    MATCH (f)<-[r:`FOLLOWS`]-(o)
    WHERE o <> me AND ($hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true))
    RETURN o
    LIMIT $max_followers
  }
  WITH me, mine, o, count(*) AS shared, sum(fw) AS wshared
  ORDER BY shared DESC, o.uid
  LIMIT $max_cofollowers
  WITH me, mine, o, shared, wshared,
       wshared / sqrt(toFloat(COUNT { (o)-[:`FOLLOWS`]->() }
         - CASE WHEN $hidden IS NOT NULL AND o.hidden_run = $hidden THEN o.hidden_out ELSE 0 END))
         AS rweight
  CALL (o, shared, wshared, rweight) {
    MATCH (o)-[r:`FOLLOWS`]->(c)
    WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
    RETURN c, shared AS weight, wshared AS wweight, rweight AS rw, 0 AS cofollow
    LIMIT $max_out
    UNION ALL
    RETURN o AS c, 0 AS weight, 0.0 AS wweight, 0.0 AS rw, shared AS cofollow
  }
  WITH me, mine, c, sum(weight) AS paths, sum(wweight) AS wpaths, sum(rw) AS walk,
       max(cofollow) AS cofollow, collect(CASE WHEN weight > 0 THEN o END) AS through
  WHERE c <> me AND NOT c IN mine
  WITH c, paths, wpaths, walk, cofollow, through
  ORDER BY paths + cofollow DESC
  LIMIT $limit
  WITH c, paths, wpaths, walk, cofollow, through,
       COUNT { (c)<-[:`FOLLOWS`]-() } - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END AS followers
  WHERE coalesce(c.active, true)
  ORDER BY paths + cofollow DESC, c.uid
  RETURN collect({
    uid: c.uid, paths: paths, cofollow: cofollow,
    cosine: CASE WHEN followers > 0 THEN wpaths / sqrt(toFloat(followers)) ELSE 0.0 END,
    rp3: CASE WHEN followers > 0 THEN walk / sqrt(toFloat(followers)) ELSE 0.0 END,
    via: [x IN through[..$evidence] | x.uid], followers: followers
  }) AS rows
}
RETURN uid, rows
