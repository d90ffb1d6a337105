// Relation embeddings keyed by (uid, fid). Rows are [uid, {fid as string: [float, ...]}] with
// ALL of one user's follows in one row: each user's FOLLOWS are expanded once and matched by
// fid, which is much cheaper than one (uid, fid) lookup per relationship. Replaces any previous
// r.embedding (stored compactly as a vector property).
UNWIND $rows AS row
MATCH (:`User` {uid: row[0]})-[r:`FOLLOWS`]->(b:`User`)
WITH r, row[1][toString(b.uid)] AS embedding
WHERE embedding IS NOT NULL
CALL db.create.setRelationshipVectorProperty(r, 'embedding', embedding)
