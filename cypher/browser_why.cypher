// Neo4j Browser: why were these accounts recommended? (a saved query for people, not the product)
// 1. In the Browser (graphrec neo4j start prints its URL), set the two parameters:
//      :param user => 42
//      :param recommended => [17, 52, 90]
//    (the uids from `graphrec recommend --user 42 --json`, e.g. with
//     `graphrec recommend --user 42 --json | python -c "import json,sys; print([r['uid'] for r in json.load(sys.stdin)])"`)
// 2. Once per Browser: drag docs/browser-style.grass onto the Browser window (its colours).
// 3. Paste this file into the editor and run it (save it with the star icon to keep it).
// The graph view shows the user, up to 25 of their follows, each recommended account, and the
// paths that proposed it: friends of friends (me -> followee -> it), shared followees
// (it follows the same accounts: me -> followee <- it) and co-followers (me -> followee <-
// someone -> it). The table view lists each account's rank and path counts.
// Colours: the Browser styles nodes by label only, and every account is a :User, so the query
// marks the accounts of the picture with labels that the style colours: the user :WhyUser
// (black, largest), their follows :WhyFollows (blue), the recommended accounts :WhyRecommended
// (orange); the other accounts on the paths stay grey. It first takes away the marks of an
// earlier run and writes nothing else; to take them away by hand:
//   MATCH (n:WhyUser|WhyFollows|WhyRecommended) REMOVE n:WhyUser:WhyFollows:WhyRecommended
CALL () { MATCH (n:`WhyUser`|`WhyFollows`|`WhyRecommended`)
          REMOVE n:`WhyUser`:`WhyFollows`:`WhyRecommended` }
MATCH (me:`User` {uid: $user})
SET me:`WhyUser`
WITH me
CALL (me) { MATCH (me)-[:`FOLLOWS`]->(f:`User`) SET f:`WhyFollows` }
UNWIND range(0, size($recommended) - 1) AS i
MATCH (c:`User` {uid: $recommended[i]})
SET c:`WhyRecommended`
RETURN i + 1 AS rank, me, c AS recommended,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`) RETURN p LIMIT 25 } AS my_follows,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`)-[:`FOLLOWS`]->(c) RETURN p LIMIT 5 }
         AS friends_of_friends,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`)<-[:`FOLLOWS`]-(c) RETURN p LIMIT 5 }
         AS shared_followees,
       COLLECT { MATCH p = (me)-[:`FOLLOWS`]->(:`User`)<-[:`FOLLOWS`]-(:`User`)-[:`FOLLOWS`]->(c)
                 WHERE NOT (me)-[:`FOLLOWS`]->(c) RETURN p LIMIT 3 } AS via_co_followers,
       COUNT { (me)-[:`FOLLOWS`]->(:`User`)-[:`FOLLOWS`]->(c) } AS fof_paths,
       COUNT { (me)-[:`FOLLOWS`]->(:`User`)<-[:`FOLLOWS`]-(c) } AS shared_count
