"""Fakes and helpers shipped for users' tests too: throwaway git repositories,
and a worker run that drains the queue in-process."""

from overnight.testing.repos import commit_all, make_repo, run_until_idle

__all__ = ["commit_all", "make_repo", "run_until_idle"]
