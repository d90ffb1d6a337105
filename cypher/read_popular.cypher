// The cached most-followed accounts (refresh_popular); no row when never computed.
MATCH (m:`GraphrecMeta` {key: $key})
RETURN m.uids AS uids, m.followers AS followers, m.size AS size
