// Every follow in the database as (uid, fid), one row per FOLLOWS relationship.
MATCH (a:`User`)-[:`FOLLOWS`]->(b:`User`)
RETURN a.uid AS uid, b.uid AS fid
