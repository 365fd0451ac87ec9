"""Former home of the evaluation workflows: now :mod:`faceatlas.evaluation`.

A re-export only, so code importing ``faceatlas.scoring`` keeps working during the move.
"""

from faceatlas.evaluation import *  # noqa: F403
from faceatlas.evaluation import __all__  # noqa: F401
