// The users recommendations are for, one row each ($uids: one user, or a batch's): whether it
// exists, whom it follows, whom it blocks and which accounts it dismissed (never to be
// recommended to it again).
// $hidden: null when serving; an evaluation run's id (graphrec/evaluation/holdout.py) when
// evaluating, and then the follows that run hides are neither walked nor counted.
UNWIND $uids AS uid
OPTIONAL MATCH (me:`User` {uid: uid})
RETURN uid, me IS NOT NULL AS found,
       CASE WHEN me IS NULL THEN [] ELSE [
         (me)-[r:`FOLLOWS`]->(f:`User`)
         WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true) | f.uid
       ] END AS follows,
       CASE WHEN me IS NULL THEN [] ELSE [(me)-[:`BLOCKS`]->(b:`User`) | b.uid] END AS blocked,
       CASE WHEN me IS NULL THEN [] ELSE [(me)-[:`DISMISSED`]->(d:`User`) | d.uid] END AS dismissed
