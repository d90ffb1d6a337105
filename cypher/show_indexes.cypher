SHOW INDEXES YIELD name, type, entityType, state, populationPercent
RETURN name, type, entityType, state, populationPercent
