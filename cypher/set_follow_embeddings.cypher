// Relation embeddings keyed by (uid, fid); rows are [uid, fid, [float, ...]]. Replaces any
// previous r.embedding (stored compactly as a vector property).
UNWIND $rows AS row
MATCH (:`User` {uid: row[0]})-[r:`FOLLOWS`]->(:`User` {uid: row[1]})
CALL db.create.setRelationshipVectorProperty(r, 'embedding', row[2])
