#!/usr/bin/env bash
# Proof (issue #13) on the bundled example, examples/docapp: a copy ported by one command,
# `bgmigrate rewrite --backend BACKEND docapp`, then `bgmigrate worker` with only
# BGMIGRATE_BROKER_URL (and the app's own DOCAPP_DB) in the environment, and both call sites'
# endpoints hit once (trigger.py), their effects polled with a deadline.
# usage: BACKEND=arq|celery trials/docapp/run.sh   (bgmigrate from the running checkout's .venv)
set -uo pipefail
APP=docapp
TRIALS=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(cd "$TRIALS/.." && pwd)
TRIAL_ROOT=${TRIAL_ROOT:-/work/trial-apps}
VENV=${VENV:-$SRC/.venv}
WORK=$TRIAL_ROOT/$APP/src OUT=$TRIAL_ROOT/$APP/out-$BACKEND
export BGMIGRATE_BROKER_URL=${BGMIGRATE_BROKER_URL:-redis://127.0.0.1:6379/4}
rm -rf "$WORK" "$OUT" && mkdir -p "$WORK" "$OUT"
cp -r "$SRC/examples/docapp" "$WORK/" && rm -rf "$WORK/docapp/__pycache__" "$WORK"/docapp/*.sqlite3
git -C "$WORK" init -q && git -C "$WORK" add -A . &&
  git -C "$WORK" -c user.email=trial@localhost -c user.name=trial commit -qm pristine
echo "=== $APP: rewrite --backend $BACKEND (bgmigrate at $(git -C "$SRC" rev-parse --short HEAD))"
(cd "$WORK" && "$VENV/bin/bgmigrate" rewrite --backend "$BACKEND" --no-cache docapp 2>&1 | tee "$OUT/rewrite.out")
git -C "$WORK" add -A . && git -C "$WORK" diff --cached --stat | tee "$OUT/rewrite.stat"
git -C "$WORK" diff --cached >"$OUT/rewrite.diff"
export DOCAPP_DB=$TRIAL_ROOT/$APP/$BACKEND.sqlite3 && rm -f "$DOCAPP_DB"
echo "=== $APP: hand edits: none"
export EXPECT_TASKS="docapp.processing.process_document docapp.processing.log_conversation"
ONLY_BROKER=1 "$TRIALS/worker_trial.sh" "$BACKEND" "$WORK" "$VENV" "$TRIALS/docapp/trigger.py" 2>&1 |
  tee "$OUT/d.out" | grep -E 'BGMIGRATE_|POST|→|←|succeeded|failed|FAILED|Error|effect|lifespan|worker ran'
