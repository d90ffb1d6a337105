// The uids of users whose account vector is missing or from another model than $model.
MATCH (u:`User`)
WHERE u.account_embedding_model IS NULL OR u.account_embedding_model <> $model
RETURN collect(u.uid) AS uids
