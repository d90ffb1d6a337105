// Users and follows in the whole database (both come from Neo4j's count store).
CALL () { MATCH (u:`User`) RETURN count(u) AS users }
CALL () { MATCH ()-[r:`FOLLOWS`]->() RETURN count(r) AS follows }
RETURN users, follows
