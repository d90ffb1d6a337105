// Two-tower account vectors on :User nodes, rows [uid, [float, ...]]: stored compactly as a
// vector property (u.account_embedding), with the model they came from
// (u.account_embedding_model) so a later `embed` writes only what is missing or stale.
UNWIND $rows AS row
MATCH (u:`User` {uid: row[0]})
CALL db.create.setNodeVectorProperty(u, 'account_embedding', row[1])
SET u.account_embedding_model = $model
