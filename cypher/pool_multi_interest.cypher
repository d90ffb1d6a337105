// Pool multi_interest: for each of my interest vectors ($vectors, computed at request time
// from my follows as they are now), the accounts whose two-tower vector is nearest to it,
// from the node vector index; each interest keeps its $per_interest best.
// $neighbours covers my own follows too, which are dropped here with me and inactive users.
// An account found by several interests keeps its best score and the interest behind it.
// $hidden: null when serving; an evaluation run's id (graphrec/evaluation/holdout.py) when
// evaluating, and then the follows that run hides are neither walked nor counted.
MATCH (me:`User` {uid: $uid})
WITH me, COLLECT {
  MATCH (me)-[r:`FOLLOWS`]->(x)
  WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
  RETURN x
} AS mine
UNWIND range(0, size($vectors) - 1) AS interest
CALL (me, mine, interest) {
  CALL db.index.vector.queryNodes($index, $neighbours, $vectors[interest])
  YIELD node AS c, score
  WITH c, score
  WHERE c <> me AND NOT c IN mine AND coalesce(c.active, true)
  RETURN c, score
  ORDER BY score DESC, c.uid
  LIMIT $per_interest
}
WITH c, score, interest
ORDER BY score DESC, interest
WITH c, collect(interest)[0] AS interest, max(score) AS score
ORDER BY score DESC, c.uid
LIMIT $limit
WITH c, score, interest, COUNT { (c)<-[:`FOLLOWS`]-() } - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END AS followers
RETURN collect({uid: c.uid, similarity: score, interest: interest, followers: followers}) AS rows
