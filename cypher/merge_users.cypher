// One node per uid; idempotent thanks to the user_uid uniqueness constraint.
UNWIND $uids AS uid
MERGE (:`User` {uid: uid})
