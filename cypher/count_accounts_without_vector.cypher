// Users whose two-tower account vector is missing or from another model than $model (users
// the model has never seen are among them until a retrain).
MATCH (u:`User`)
WHERE u.account_embedding_model IS NULL OR u.account_embedding_model <> $model
RETURN count(u) AS missing
