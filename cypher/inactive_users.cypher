// Which of $uids are marked inactive (User.active = false) or missing from the graph.
UNWIND $uids AS u
OPTIONAL MATCH (c:`User` {uid: u})
WITH u, c
WHERE c IS NULL OR c.active = false
RETURN u AS uid
