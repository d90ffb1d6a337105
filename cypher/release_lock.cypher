// Give back the graph-wide lock $key, if $holder still has it.
MATCH (m:`GraphrecMeta` {key: $key})
WHERE m.holder = $holder
REMOVE m.holder, m.expires, m.since, m.what, m.host, m.pid
RETURN count(m) AS released
