"""One run of a task, as a sequence of recorded steps:
prepare → baseline → (agent → gates)×attempts → deliver."""

from overnight.pipeline.run import Paths, Paused, execute

__all__ = ["Paths", "Paused", "execute"]
