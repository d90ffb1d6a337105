// Every node in the database whatever its label, but graphrec's own bookkeeping (locks, the
// popular list, model metadata), which an import rebuilds: bulk import needs an empty database.
MATCH (n)
WHERE NOT n:`GraphrecMeta`
RETURN count(n) AS nodes
