"""Demand: population per residential unit and neighbourhoods."""
