"""Laboratory use cases: catalogue, orders, results (flags computed here), trends."""
