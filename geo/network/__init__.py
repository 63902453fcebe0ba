"""Walking networks and the access engine (network distances and the labelled estimate)."""
