"""Planning: coverage and gaps, recommended sites, scenarios."""
