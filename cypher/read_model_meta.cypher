// The metadata node written by `graphrec embed` (no row if embed never ran).
MATCH (m:`GraphrecMeta` {key: $key})
RETURN m.version AS version, m.dims AS dims, m.state AS state, m.written_at AS written_at,
       m.count AS count, m.skipped AS skipped
