// Live follows (graphrec follow, POST /follows): each row {uid, fid, embedding} creates both
// users if need be and the FOLLOWS between them once (MERGE: a repeat changes nothing), and
// sets its relation embedding when the model knows both uids ($model: its tag), so the new
// relationship is in the vector index at once. `created`: whether the follow is new.
UNWIND $rows AS row
MERGE (a:`User` {uid: row.uid})
MERGE (b:`User` {uid: row.fid})
WITH row, a, b, EXISTS { (a)-[:`FOLLOWS`]->(b) } AS existed
MERGE (a)-[r:`FOLLOWS`]->(b)
WITH row, r, existed
CALL (row, r) {
  WITH row, r
  WHERE row.embedding IS NOT NULL
  CALL db.create.setRelationshipVectorProperty(r, 'embedding', row.embedding)
  SET r.embedding_model = $model
}
RETURN row.uid AS uid, row.fid AS fid, NOT existed AS created
