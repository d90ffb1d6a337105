// Neo4j Browser: why were these accounts recommended? (a saved query for people, not the product)
// 1. In the Browser (graphrec neo4j start prints its URL), set the two parameters:
//      :param user => 42
//      :param recommended => [17, 52, 90]
//    (the uids from `graphrec recommend --user 42 --json`, e.g. with
//     `graphrec recommend --user 42 --json | python -c "import json,sys; print([r['uid'] for r in json.load(sys.stdin)])"`)
// 2. Paste this file into the editor and run it (save it with the star icon to keep it).
// The graph view shows the user, up to 25 of their follows, each recommended account, and the
// paths that proposed it: friends of friends (me -> followee -> it), shared followees
// (it follows the same accounts: me -> followee <- it) and co-followers (me -> followee <-
// someone -> it). The table view lists the path counts.
MATCH (me:`User` {uid: $user})
UNWIND $recommended AS uid
MATCH (c:`User` {uid: uid})
RETURN me, c AS recommended,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`) RETURN p LIMIT 25 } AS my_follows,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`)-[:`FOLLOWS`]->(c) RETURN p LIMIT 5 }
         AS friends_of_friends,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`)<-[:`FOLLOWS`]-(c) RETURN p LIMIT 5 }
         AS shared_followees,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`)<-[:`FOLLOWS`]-(:`User`)-[:`FOLLOWS`]->(c)
                 WHERE NOT (me)-[:`FOLLOWS`]->(c) RETURN p LIMIT 3 } AS via_co_followers,
       COUNT { (me)-[:`FOLLOWS`]->(:`User`)-[:`FOLLOWS`]->(c) } AS fof_paths,
       COUNT { (me)-[:`FOLLOWS`]->(:`User`)<-[:`FOLLOWS`]-(c) } AS shared_count
