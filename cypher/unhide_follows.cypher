// The end of an evaluation run: remove its marks (hide_follows) from the given follows and
// their end users. Marks of other runs stay.
UNWIND $rows AS row
MATCH (a:`User` {uid: row[0]})-[r:`FOLLOWS`]->(b:`User` {uid: row[1]})
WHERE r.hidden_by = $run
REMOVE r.hidden_by
FOREACH (n IN [x IN [a, b] WHERE x.hidden_run = $run] |
  REMOVE n.hidden_run, n.hidden_in, n.hidden_out)
RETURN count(r) AS hidden
