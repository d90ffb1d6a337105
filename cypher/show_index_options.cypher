// One index's type and options (vector dimensions live in options.indexConfig).
SHOW INDEXES YIELD name, type, entityType, state, options
WHERE name = $name
RETURN name, type, entityType, state, options
