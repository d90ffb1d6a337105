// Pool 1, similar relations (the reference's "complex logic"), one query for all of the user's
// relations: for each of my FOLLOWS r = (me)->(f) with f in $via (capped by the caller, highest
// model score first), ask the relationship vector index for the $neighbours nearest relations
// s = (a)->(b); keep a when I also follow b, I do not follow a yet, a is not me and a is active.
// paths = how many of those similar relations lead to a; via = the shared accounts b.
MATCH (me:`User` {uid: $uid})
WITH me, COLLECT { MATCH (me)-[:`FOLLOWS`]->(x) RETURN x } AS mine
UNWIND $via AS v
MATCH (me)-[r:`FOLLOWS`]->(:`User` {uid: v})
WHERE r.embedding IS NOT NULL
CALL db.index.vector.queryRelationships($index, $neighbours, r.embedding)
YIELD relationship AS s, score
WITH me, mine, startNode(s) AS a, endNode(s) AS b, score
WHERE a <> me AND b IN mine AND NOT a IN mine
  AND coalesce(a.active, true)
WITH a, count(*) AS paths, max(score) AS similarity, collect(DISTINCT b.uid) AS shared
ORDER BY paths DESC, similarity DESC, a.uid
LIMIT $limit
RETURN collect({
  uid: a.uid, paths: paths, similarity: similarity, via: shared[..$evidence],
  n_via: size(shared), followers: COUNT { (a)<-[:`FOLLOWS`]-() }
}) AS rows
