// Live impressions (POST /feedback with kind "impression"): each row {uid, fid} counts one
// showing of the account to the user on `(user)-[:SHOWN {count, last}]->(account)`, so that
// later work can measure how often what is shown gets followed.
// All or nothing: when a uid of any row is not in the graph, no row is written.
// `found`: whether both users of the row exist; `created`: whether it is the first showing.
UNWIND $rows AS row
OPTIONAL MATCH (a:`User` {uid: row.uid})
OPTIONAL MATCH (b:`User` {uid: row.fid})
WITH collect({row: row, a: a, b: b}) AS rows
WITH rows, all(r IN rows WHERE r.a IS NOT NULL AND r.b IS NOT NULL) AS complete
UNWIND rows AS r
OPTIONAL CALL (r, complete) {
  WITH r
  WHERE complete
  WITH r.a AS a, r.b AS b
  MERGE (a)-[s:`SHOWN`]->(b)
  ON CREATE SET s.count = 0
  SET s.count = s.count + 1, s.last = datetime()
  RETURN s.count = 1 AS created
}
RETURN r.row.uid AS uid, r.row.fid AS fid, r.a IS NOT NULL AND r.b IS NOT NULL AS found, created
