// The user a recommendation is for: whether it exists, whom it follows and whom it blocks.
OPTIONAL MATCH (me:`User` {uid: $uid})
RETURN me IS NOT NULL AS found,
       CASE WHEN me IS NULL THEN [] ELSE [(me)-[:`FOLLOWS`]->(f:`User`) | f.uid] END AS follows,
       CASE WHEN me IS NULL THEN [] ELSE [(me)-[:`BLOCKS`]->(b:`User`) | b.uid] END AS blocked
