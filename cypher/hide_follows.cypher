// An evaluation run hides the given follows from its own queries, and only from them: each
// FOLLOWS gets hidden_by = $run, which the pool queries skip when called with $hidden = $run
// and which nothing serving users reads. Both end users count what the run hides from them
// (hidden_out, hidden_in; valid while hidden_run = $run, so marks an earlier, killed run left
// behind count for nothing), so that degree counts can leave those follows out too.
// The caller sends each pair once.
UNWIND $rows AS row
MATCH (a:`User` {uid: row[0]})-[r:`FOLLOWS`]->(b:`User` {uid: row[1]})
WHERE coalesce(r.hidden_by <> $run, true)
SET r.hidden_by = $run
FOREACH (n IN CASE WHEN coalesce(a.hidden_run <> $run, true) THEN [a] ELSE [] END |
  SET n.hidden_run = $run, n.hidden_in = 0, n.hidden_out = 0)
FOREACH (n IN CASE WHEN coalesce(b.hidden_run <> $run, true) THEN [b] ELSE [] END |
  SET n.hidden_run = $run, n.hidden_in = 0, n.hidden_out = 0)
SET a.hidden_out = a.hidden_out + 1, b.hidden_in = b.hidden_in + 1
RETURN count(r) AS hidden
