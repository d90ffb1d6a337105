// Every FOLLOWS relationship, duplicates included.
MATCH ()-[r:`FOLLOWS`]->()
RETURN count(r) AS follows
