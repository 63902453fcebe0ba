"""Readers, writers and table contracts: area registry, OSM files, atomic files, geometry."""
