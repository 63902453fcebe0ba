"""lifecircle: a 15-minute community life-circle planner (15分钟社区生活圈) for Shanghai.

The package follows the pipeline of DESIGN.md, one module per stage::

    areas -> osm -> network -> taxonomy -> plans -> geocode -> population
          -> access -> coverage -> sites -> export -> cli
"""

from geo._errors import LifeCircleError

__all__ = ["LifeCircleError"]
__version__ = "0.1.0"
