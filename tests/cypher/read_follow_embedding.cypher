// Test helper: the FOLLOWS (uid)->(fid), its embedding and model tag; no row when absent.
MATCH (:User {uid: $uid})-[r:FOLLOWS]->(:User {uid: $fid})
RETURN r.embedding AS embedding, r.embedding_model AS model, count(*) AS n
