// Uniqueness of User.uid; also the index every MATCH/MERGE on uid uses.
CREATE CONSTRAINT user_uid IF NOT EXISTS
FOR (u:`User`) REQUIRE u.uid IS UNIQUE
