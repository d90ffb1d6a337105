// Test helper: the FOLLOWS nearest to $vector in the relationship vector index.
CALL db.index.vector.queryRelationships('follow_embedding', $n, $vector)
YIELD relationship AS r, score
RETURN startNode(r).uid AS uid, endNode(r).uid AS fid, score
