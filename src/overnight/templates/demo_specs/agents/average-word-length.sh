#!/usr/bin/env bash
# Scripted stand-in for an LLM agent (overnight demo, task 1 of 3: easy).
# It runs in the task's workspace with the spec in $OVERNIGHT_SPEC, and
# applies a prepared, correct change.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
echo "scripted agent: the spec asks: $(head -n 1 "$OVERNIGHT_SPEC")"
echo "scripted agent: adding average_word_length() to textstats.py"
git apply "$here/average-word-length.diff"
git diff --stat
