// Users with at least $min_follows follows, with their follows, for fitting the ranker.
MATCH (u:`User`)
WHERE COUNT { (u)-[:`FOLLOWS`]->() } >= $min_follows
RETURN u.uid AS uid, [(u)-[:`FOLLOWS`]->(f:`User`) | f.uid] AS follows
