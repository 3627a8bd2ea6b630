"""One run of a task, as a sequence of recorded steps:
prepare → baseline → (agent → gates)×attempts → deliver."""

from overnight.pipeline.recorder import Paused
from overnight.pipeline.run import Paths, execute

__all__ = ["Paths", "Paused", "execute"]
