// Relation embeddings keyed by (uid, fid). Rows are [uid, {fid as string: [float, ...]}] with
// ALL of one user's follows in one row: each user's FOLLOWS are expanded once and matched by
// fid, which is much cheaper than one (uid, fid) lookup per relationship. Replaces any previous
// r.embedding (stored compactly as a vector property) and records the model it came from in
// r.embedding_model, so a later `embed` writes only what is missing or from another model.
UNWIND $rows AS row
MATCH (:`User` {uid: row[0]})-[r:`FOLLOWS`]->(b:`User`)
WITH r, row[1][toString(b.uid)] AS embedding
WHERE embedding IS NOT NULL
CALL db.create.setRelationshipVectorProperty(r, 'embedding', embedding)
SET r.embedding_model = $model
