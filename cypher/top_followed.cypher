// The $limit most-followed users (ties by uid), with their follower counts.
MATCH (u:`User`)
WITH u, COUNT { (u)<-[:`FOLLOWS`]-() } AS followers
ORDER BY followers DESC, u.uid
LIMIT $limit
RETURN u.uid AS uid, followers
