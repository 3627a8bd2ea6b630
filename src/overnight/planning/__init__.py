"""Planning: a feature broken down by a model into specs that each carry an
executable proof, in the order they must run (docs/plan.md).

    planner.py   ``overnight plan``: context, the model, proofs, the folder written
    draft.py     ``overnight spec draft``: one spec, proven the same way
    context.py   the repository at its base, as the model is shown it
    dialogue.py  the conversation: reads, malformed answers sent back, then a failure
    answer.py    the model's answer parsed strictly (untrusted data)
    graph.py     unknown ids and cycles refused, topological order
    proof.py     each acceptance test applied at the base: collected, and failing
    planfile.py  spec files, test patches and plan.json on disk
    submit.py    ``plan submit`` (in order, all or none) and ``plan show``
    stored.py    the store's copy of a plan, and the plan as the dashboard shows it
    edit.py      a description edited or a spec dropped before the plan is queued
"""
