// The relationship vector index over FOLLOWS.embedding (cosine); a no-op if it exists.
// $m and $ef_construction are the HNSW graph's links per vector and build-time search width;
// $quantization stores the vectors in 8 bits (embed.VectorIndexConfig says why it is off).
CREATE VECTOR INDEX $name IF NOT EXISTS
FOR ()-[r:`FOLLOWS`]-() ON (r.embedding)
OPTIONS {indexConfig: {
  `vector.dimensions`: $dims,
  `vector.similarity_function`: 'cosine',
  `vector.hnsw.m`: $m,
  `vector.hnsw.ef_construction`: $ef_construction,
  `vector.quantization.enabled`: $quantization
}}
