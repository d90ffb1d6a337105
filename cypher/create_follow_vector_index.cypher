// The relationship vector index over FOLLOWS.embedding (cosine); a no-op if it exists.
CREATE VECTOR INDEX $name IF NOT EXISTS
FOR ()-[r:`FOLLOWS`]-() ON (r.embedding)
OPTIONS {indexConfig: {
  `vector.dimensions`: $dims,
  `vector.similarity_function`: 'cosine',
  // 16 floats per follow are small already; quantising them distorts the cosines pool 1 uses
  `vector.quantization.enabled`: false
}}
