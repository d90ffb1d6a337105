// Tests only: mark users inactive and add BLOCKS relationships.
UNWIND $inactive AS u
MATCH (n:`User` {uid: u})
SET n.active = false
WITH count(*) AS done
UNWIND $blocks AS pair
MATCH (a:`User` {uid: pair[0]}), (b:`User` {uid: pair[1]})
MERGE (a)-[:`BLOCKS`]->(b)
