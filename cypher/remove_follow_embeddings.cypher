// Drops r.embedding from follows the current model cannot embed (rows are [uid, fid]), so no
// vector from an older model survives a re-run.
UNWIND $rows AS row
MATCH (:`User` {uid: row[0]})-[r:`FOLLOWS`]->(:`User` {uid: row[1]})
REMOVE r.embedding, r.embedding_model
