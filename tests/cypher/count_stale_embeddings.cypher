// FOLLOWS without an embedding of the model tagged $model.
MATCH ()-[r:`FOLLOWS`]->()
WHERE r.embedding IS NULL OR r.embedding_model IS NULL OR r.embedding_model <> $model
RETURN count(r) AS stale
