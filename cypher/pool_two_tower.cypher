// Pool two_tower: the accounts whose two-tower vector is nearest to my user vector ($vector,
// computed at request time from my follows as they are now), from the node vector index.
// $neighbours covers my own follows too, which are dropped here with me and inactive users.
// similarity = the index's cosine score; position in the pool becomes a ranker feature.
MATCH (me:`User` {uid: $uid})
WITH me, COLLECT { MATCH (me)-[:`FOLLOWS`]->(x) RETURN x } AS mine
CALL db.index.vector.queryNodes($index, $neighbours, $vector)
YIELD node AS c, score
WHERE c <> me AND NOT c IN mine AND coalesce(c.active, true)
WITH c, score
ORDER BY score DESC, c.uid
LIMIT $limit
RETURN collect({uid: c.uid, similarity: score, followers: COUNT { (c)<-[:`FOLLOWS`]-() }}) AS rows
