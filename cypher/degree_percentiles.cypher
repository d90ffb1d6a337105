// Out- and in-degree percentiles over every User (degrees come from the node's own counters).
MATCH (u:`User`)
WITH COUNT { (u)-[:`FOLLOWS`]->() } AS out_degree, COUNT { (u)<-[:`FOLLOWS`]-() } AS in_degree
RETURN
  percentileDisc(out_degree, 0.5) AS out_p50,
  percentileDisc(out_degree, 0.9) AS out_p90,
  percentileDisc(out_degree, 0.99) AS out_p99,
  max(out_degree) AS out_max,
  percentileDisc(in_degree, 0.5) AS in_p50,
  percentileDisc(in_degree, 0.9) AS in_p90,
  percentileDisc(in_degree, 0.99) AS in_p99,
  max(in_degree) AS in_max
