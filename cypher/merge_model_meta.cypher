// Which model wrote the FOLLOWS embeddings: one metadata node per key, e.g. 'model'.
// state is 'writing' while embed runs and 'complete' once every vector and the index are in.
MERGE (m:`GraphrecMeta` {key: $key})
SET m.version = $version,
    m.dims = $dims,
    m.state = $state,
    m.written_at = $written_at,
    m.count = $count,
    m.skipped = $skipped
