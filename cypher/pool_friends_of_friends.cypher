// Pool 2, friends of friends: accounts followed by the accounts in $via (my followees, those
// that pool 1 found shared first; or, in an expansion round, candidates found so far), at most
// $max_out per account so dense nodes stay fast; not followed by me, not me, active.
// paths = how many of the $via accounts follow the candidate; adamic_adar weights each path by
// 1/log(degree) of the account in between (a hub's follows say less about me).
// As in pool 3 (see there why): no property of c is read before the cut, one row out per user.
// $via null: all my followees if I have at most $max_followees, else nothing (the caller can
// start this before it has read my follows, and picks them itself for a heavy follower); a
// list serves every user in $uids alike (the caller gives it with one user).
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
  WITH me, mine, f, COUNT { (f)-[:`FOLLOWS`]-() }
       - CASE WHEN $hidden IS NOT NULL AND f.hidden_run = $hidden
              THEN f.hidden_in + f.hidden_out ELSE 0 END AS degree
  CALL (f) {
    MATCH (f)-[r:`FOLLOWS`]->(c)
    WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
    RETURN c
    LIMIT $max_out
  }
  WITH me, mine, c, count(*) AS paths, collect(f.uid) AS through,
       sum(CASE WHEN degree > 1 THEN 1.0 / log(degree) ELSE 0.0 END) AS adamic_adar
  WHERE c <> me AND NOT c IN mine
  WITH c, paths, adamic_adar, through
  ORDER BY adamic_adar DESC, paths DESC
  LIMIT $limit
  WITH c, paths, adamic_adar, through
  WHERE coalesce(c.active, true)
  ORDER BY adamic_adar DESC, paths DESC, c.uid
  RETURN collect({
    uid: c.uid, paths: paths, adamic_adar: adamic_adar, via: through[..$evidence],
    followers: COUNT { (c)<-[:`FOLLOWS`]-() }
      - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END
  }) AS rows
}
RETURN uid, rows
