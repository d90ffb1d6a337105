// Take the graph-wide lock $key for $holder (process $pid on $host) until $lease_ms from now,
// unless another holder has it, its lease has not run out, and it is not $dead (a holder the
// caller found gone: a process of its own machine that no longer exists). Setting `m._lock`
// first takes the node's write lock, so two callers cannot both read "free": the second waits
// here for the first to commit. `taken` says whether $holder has it now; the rest describes
// the holder otherwise; `stale` names an earlier holder that went away without releasing it.
MERGE (m:`GraphrecMeta` {key: $key})
SET m._lock = true
WITH m, m.holder AS before,
     m.holder IS NULL OR m.holder = $holder OR m.holder = $dead
     OR m.expires < datetime.transaction() AS free
SET m.since = CASE WHEN free AND coalesce(before <> $holder, true) THEN datetime.transaction()
                   ELSE m.since END,
    m.expires = CASE WHEN free THEN datetime.transaction() + duration({milliseconds: $lease_ms})
                     ELSE m.expires END,
    m.what = CASE WHEN free THEN $what ELSE m.what END,
    m.host = CASE WHEN free THEN $host ELSE m.host END,
    m.pid = CASE WHEN free THEN $pid ELSE m.pid END,
    m.holder = CASE WHEN free THEN $holder ELSE before END
REMOVE m._lock
RETURN free AS taken, m.holder AS holder, toString(m.since) AS since, m.what AS what,
       m.host AS host, m.pid AS pid,
       CASE WHEN free AND before IS NOT NULL AND before <> $holder THEN before END AS stale
