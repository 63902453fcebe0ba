"""City-wide screen: every subdistrict of the boundary file through the same stages, on Dask.

``catalogue`` turns the boundary file into study areas; ``area`` runs the stages of
``lifecircle run`` for one area into its own results folder; ``screen`` distributes the areas
over a ``dask.distributed`` cluster and assembles the city table. This subpackage sits at the
top with ``geo.cli`` and may import every stage.
"""
