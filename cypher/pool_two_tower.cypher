// Pool two_tower: the accounts whose two-tower vector is nearest to my user vector ($vector,
// computed at request time from my follows as they are now), from the node vector index.
// $neighbours covers my own follows too, which are dropped here with me and inactive users.
// similarity = the index's cosine score; position in the pool becomes a ranker feature.
// $hidden: null when serving; an evaluation run's id (graphrec/evaluation/holdout.py) when
// evaluating, and then the follows that run hides are neither walked nor counted.
MATCH (me:`User` {uid: $uid})
WITH me, COLLECT {
  MATCH (me)-[r:`FOLLOWS`]->(x)
  WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
  RETURN x
} AS mine
CALL db.index.vector.queryNodes($index, $neighbours, $vector)
YIELD node AS c, score
WHERE c <> me AND NOT c IN mine AND coalesce(c.active, true)
WITH c, score
ORDER BY score DESC, c.uid
LIMIT $limit
WITH c, score, COUNT { (c)<-[:`FOLLOWS`]-() } - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END AS followers
RETURN collect({uid: c.uid, similarity: score, followers: followers}) AS rows
