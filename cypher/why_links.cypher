// `graphrec why`: which of the user's follows ($targets) each of $sources follows -- the
// co-followers and similar followers behind the recommendations, so that the picture shows
// the whole path (me -> f <- co-follower -> recommended), not only the pools' evidence. At most
// $max_links per source: the picture shows a bounded number of follows anyway.
UNWIND $sources AS s
MATCH (a:`User` {uid: s})
CALL (a) {
  MATCH (a)-[:`FOLLOWS`]->(b:`User`)
  WHERE b.uid IN $targets AND b <> a
  RETURN b
  LIMIT $max_links
}
RETURN collect([a.uid, b.uid]) AS links
