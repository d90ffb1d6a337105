// How many FOLLOWS have no relation embedding yet (e.g. added after the last embed).
MATCH ()-[r:`FOLLOWS`]->()
WHERE r.embedding IS NULL
RETURN count(r) AS missing
