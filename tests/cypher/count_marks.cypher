// Test helper: how many BLOCKS and DISMISSED marks the graph holds.
RETURN COUNT { ()-[:BLOCKS]->() } AS blocks, COUNT { ()-[:DISMISSED]->() } AS dismissed
