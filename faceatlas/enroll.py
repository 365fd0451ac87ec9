"""Former home of the known-people workflows: now :mod:`faceatlas.known`.

A re-export only, so code importing ``faceatlas.enroll`` keeps working during the move.
"""

from faceatlas.known import *  # noqa: F403
from faceatlas.known import __all__  # noqa: F401
