"""Laboratory: orders, specimens, results, review, trends, the test catalogue."""
