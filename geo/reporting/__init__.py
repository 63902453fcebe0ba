"""Reporting: the results read model, maps, tables and exports."""
