// One index's state (ONLINE, POPULATING, FAILED) and how far its population has got.
SHOW INDEXES YIELD name, state, populationPercent
WHERE name = $name
RETURN state, populationPercent AS percent
