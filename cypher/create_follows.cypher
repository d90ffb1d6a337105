// Fast path for follows known to be absent (the loader proves it). $fids holds the distinct
// followed uids of this batch, looked up once; rows are [uid, [index into $fids, ...]].
// collect([b]) keeps a missing user as [null], so indexes never shift (CREATE then fails).
UNWIND $fids AS fid
OPTIONAL MATCH (b:`User` {uid: fid})
WITH collect([b]) AS targets
UNWIND $rows AS row
MATCH (a:`User` {uid: row[0]})
UNWIND row[1] AS i
WITH a, targets[i][0] AS b
CREATE (a)-[:`FOLLOWS`]->(b)
