// Every node in the database, whatever its label (bulk import needs an empty database).
MATCH (n)
RETURN count(n) AS nodes
