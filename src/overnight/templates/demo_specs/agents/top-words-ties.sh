#!/usr/bin/env bash
# Scripted stand-in for an LLM agent (overnight demo, task 2 of 3: medium).
# Its first attempt is wrong: it sorts alphabetically and forgets the counts,
# which breaks a test that passed before. On the next attempt it reads the
# gates' feedback in $OVERNIGHT_FEEDBACK and fixes what that names.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
attempt="${OVERNIGHT_ATTEMPT:-1}"
feedback="${OVERNIGHT_FEEDBACK:-}"
if [[ -z "$feedback" ]]; then
    echo "scripted agent, attempt $attempt: no feedback yet; sorting top_words() by word"
    git apply "$here/top-words-attempt-1.diff"
elif grep -q "test_textstats.py::test_top_words: passed on the base" <<<"$feedback"; then
    echo "scripted agent, attempt $attempt: the gates said:"
    head -n 12 <<<"$feedback" | sed 's/^/    | /'
    echo "scripted agent: I broke test_top_words; sorting by count first, then by word"
    git apply "$here/top-words-fix.diff"
else
    echo "scripted agent, attempt $attempt: feedback it has no script for; giving up" >&2
    exit 1
fi
git diff --stat
