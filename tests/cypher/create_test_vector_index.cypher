// Tests only: the FOLLOWS vector index graphrec.embed creates, for hand-made embeddings.
CREATE VECTOR INDEX follow_embedding IF NOT EXISTS
FOR ()-[r:`FOLLOWS`]-() ON (r.embedding)
OPTIONS {indexConfig: {`vector.dimensions`: $dims, `vector.similarity_function`: 'cosine',
                      `vector.quantization.enabled`: false}}
