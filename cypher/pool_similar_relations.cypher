// Pool 1, similar relations (the reference's "complex logic"), one query for all of the user's
// relations: for each of my FOLLOWS r = (me)->(f) with f in $via (capped by the caller, highest
// model score first), ask the relationship vector index for the $neighbours nearest relations
// s = (a)->(b) and keep those where I also follow b: a is a *similar follower*. Two rules read
// those relations (docs/recommend.md compares them):
// * `rows`, the reference code's rule: propose a itself when I do not follow a yet and a is
//   active. paths = how many similar relations lead to a; via = the shared accounts b.
// * `followees`, the reference prose's rule, only when $followees: propose the accounts c the
//   similar followers a follow (at most $max_out each) and I do not. paths = the similar
//   relations behind those followers, summed; via = the followers a.
// $hidden: null when serving; an evaluation run's id (graphrec/evaluation/holdout.py) when
// evaluating, and then the follows that run hides are neither walked nor counted.
MATCH (me:`User` {uid: $uid})
WITH me, COLLECT {
  MATCH (me)-[r:`FOLLOWS`]->(x)
  WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
  RETURN x
} AS mine
UNWIND $via AS v
MATCH (me)-[r:`FOLLOWS`]->(:`User` {uid: v})
WHERE r.embedding IS NOT NULL AND ($hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true))
CALL db.index.vector.queryRelationships($index, $neighbours, r.embedding)
YIELD relationship AS s, score
WITH me, mine, startNode(s) AS a, endNode(s) AS b, score
WHERE a <> me AND b IN mine AND ($hidden IS NULL OR coalesce(s.hidden_by <> $hidden, true))
WITH me, mine, a, count(*) AS paths, max(score) AS similarity, collect(DISTINCT b.uid) AS shared
WITH me, mine, collect({a: a, paths: paths, similarity: similarity, shared: shared}) AS similar
CALL (mine, similar) {
  UNWIND similar AS s
  WITH s.a AS a, s.paths AS paths, s.similarity AS similarity, s.shared AS shared
  WHERE NOT a IN mine AND coalesce(a.active, true)
  ORDER BY paths DESC, similarity DESC, a.uid
  LIMIT $limit
  RETURN collect({
    uid: a.uid, paths: paths, similarity: similarity, via: shared[..$evidence],
    n_via: size(shared),
    followers: COUNT { (a)<-[:`FOLLOWS`]-() }
      - CASE WHEN $hidden IS NOT NULL AND a.hidden_run = $hidden THEN a.hidden_in ELSE 0 END
  }) AS rows
}
CALL (me, mine, similar) {
  UNWIND CASE WHEN $followees THEN similar ELSE [] END AS s
  WITH s.a AS a, s.paths AS weight, s.similarity AS sim
  CALL (a) {
    MATCH (a)-[r:`FOLLOWS`]->(c)
    WHERE $hidden IS NULL OR coalesce(r.hidden_by <> $hidden, true)
    RETURN c
    LIMIT $max_out
  }
  WITH me, mine, c, sum(weight) AS paths, max(sim) AS similarity, collect(a.uid) AS through
  WHERE c <> me AND NOT c IN mine
  WITH c, paths, similarity, through
  ORDER BY paths DESC, similarity DESC
  LIMIT $limit
  WITH c, paths, similarity, through
  WHERE coalesce(c.active, true)
  ORDER BY paths DESC, similarity DESC, c.uid
  RETURN collect({
    uid: c.uid, paths: paths, similarity: similarity, via: through[..$evidence],
    n_via: size(through), followers: COUNT { (c)<-[:`FOLLOWS`]-() }
    - CASE WHEN $hidden IS NOT NULL AND c.hidden_run = $hidden THEN c.hidden_in ELSE 0 END
  }) AS followees
}
RETURN rows, followees
