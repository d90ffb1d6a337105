// Tests only (until/unless graphrec.embed is used): set hand-made relation embeddings.
UNWIND $rows AS row
MATCH (:`User` {uid: row[0]})-[r:`FOLLOWS`]->(:`User` {uid: row[1]})
CALL db.create.setRelationshipVectorProperty(r, 'embedding', row[2])
