// Delete the given (uid, fid) follows for real.
UNWIND $rows AS row
MATCH (:User {uid: row[0]})-[r:FOLLOWS]->(:User {uid: row[1]})
DELETE r
