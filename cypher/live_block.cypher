// Live block (graphrec block, POST /blocks): each row {uid, fid} marks the account with
// `(user)-[:BLOCKS]->(account)`, once; recommendations never show it to that user again.
// All or nothing: when a uid of any row is not in the graph, no row is written.
// `found`: whether both users of the row exist; `created`: whether its mark is new.
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
  WITH a, b, EXISTS { (a)-[:`BLOCKS`]->(b) } AS existed
  MERGE (a)-[m:`BLOCKS`]->(b)
  ON CREATE SET m.at = datetime()
  RETURN NOT existed AS created
}
RETURN r.row.uid AS uid, r.row.fid AS fid, r.a IS NOT NULL AND r.b IS NOT NULL AS found, created
