// Live unfollows (graphrec unfollow, DELETE /follows): each row {uid, fid} deletes that
// FOLLOWS if there is one. `deleted`: whether there was.
UNWIND $rows AS row
OPTIONAL MATCH (:`User` {uid: row.uid})-[r:`FOLLOWS`]->(:`User` {uid: row.fid})
DELETE r
RETURN row.uid AS uid, row.fid AS fid, r IS NOT NULL AS deleted
