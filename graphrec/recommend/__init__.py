"""Who to follow: Cypher candidate pools in fallback order, NeuMF + graph-evidence ranking.

``Recommender(driver, database, model_dir).recommend(uid, k)`` is the entry point; see
docs/recommend.md for how the pools, the ranking and the explanations work.
"""
