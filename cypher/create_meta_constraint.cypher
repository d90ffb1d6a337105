// Uniqueness of GraphrecMeta.key: two processes that MERGE the same metadata node (a lock,
// the popular list) at once get one node, not two.
CREATE CONSTRAINT graphrec_meta_key IF NOT EXISTS
FOR (m:`GraphrecMeta`) REQUIRE m.key IS UNIQUE
