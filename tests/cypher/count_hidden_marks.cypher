// Follows and users that carry an evaluation run's marks (graphrec/evaluation/holdout.py).
CALL () { MATCH ()-[r:FOLLOWS]->() WHERE r.hidden_by IS NOT NULL RETURN count(r) AS r }
CALL () { MATCH (n:User) WHERE n.hidden_run IS NOT NULL RETURN count(n) AS n }
RETURN r + n AS marks
