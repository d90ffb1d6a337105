// The stored relation embeddings of the given follows (rows are [uid, fid]); null if none.
UNWIND $rows AS row
MATCH (:`User` {uid: row[0]})-[r:`FOLLOWS`]->(:`User` {uid: row[1]})
RETURN row[0] AS uid, row[1] AS fid, r.embedding AS embedding
