"""overnight: asynchronous code generation with executable evidence.

A developer writes precise task specs and queues them; workers run an agent in
an isolated workspace, run the quality gates, feed failures back, and deliver a
branch and pull request that is READY only when every blocking gate passed on
the exact commit delivered.
"""

__version__ = "0.1.0"
