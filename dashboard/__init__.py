"""The lifecircle dashboard (Dash + dash-leaflet): reads ``out/``, never reruns the pipeline.

``dashboard.app.create_app(out_dir) -> dash.Dash``; ``lifecircle dashboard`` serves it.
"""
