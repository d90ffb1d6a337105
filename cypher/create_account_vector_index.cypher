// The node vector index over the two-tower account vectors (cosine: they are unit vectors, so
// it orders by their dot product with the user vector); a no-op if it exists.
CREATE VECTOR INDEX $name IF NOT EXISTS
FOR (u:`User`) ON (u.account_embedding)
OPTIONS {indexConfig: {
  `vector.dimensions`: $dims,
  `vector.similarity_function`: 'cosine',
  `vector.quantization.enabled`: false
}}
