// Test only: forget graphrec metadata (as in a graph another tool loaded).
MATCH (m:`GraphrecMeta` {key: $key})
DELETE m
