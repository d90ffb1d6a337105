// Evaluation and ranker fitting: move the given follows out of sight of the pools and the
// vector index by turning each FOLLOWS into a HELDOUT relationship with the same properties.
UNWIND $rows AS row
MATCH (a:`User` {uid: row[0]})-[r:`FOLLOWS`]->(b:`User` {uid: row[1]})
CREATE (a)-[h:`HELDOUT`]->(b)
SET h = properties(r)
DELETE r
RETURN count(h) AS moved
