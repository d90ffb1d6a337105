// What graphrec's first hold-out design did to a held-out follow: move it to a HELDOUT
// relationship with the same properties (a run killed then left it there).
UNWIND $rows AS row
MATCH (a:User {uid: row[0]})-[r:FOLLOWS]->(b:User {uid: row[1]})
CREATE (a)-[h:HELDOUT]->(b)
SET h = properties(r)
DELETE r
