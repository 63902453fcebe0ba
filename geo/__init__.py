"""lifecircle: a 15-minute community life-circle planner (15分钟社区生活圈) for Shanghai.

The package is grouped by pipeline stage; data flows one way (see docs/ARCHITECTURE.md)::

    io -> facilities -> network -> demand -> planning -> reporting -> cli

A stage imports only earlier stages; ``tests/test_architecture.py`` enforces it.
"""

from geo._errors import (
    InputError,
    LifeCircleError,
    MissingDependencyError,
    MissingStageError,
)

__all__ = ["InputError", "LifeCircleError", "MissingDependencyError", "MissingStageError"]
__version__ = "0.1.0"
