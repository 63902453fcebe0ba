"""Facilities: taxonomy, plan extraction, OSM inventory, geocoding, coordinate systems."""
