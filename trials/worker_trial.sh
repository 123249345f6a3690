#!/usr/bin/env bash
# Step d of a trial: start `bgmigrate worker --backend BACKEND` on Redis db 4, run the app's
# trigger (one request), and report whether the worker did the task's work.
# usage: worker_trial.sh BACKEND APP_DIR VENV TRIGGER [TRIGGER ARGS...]
# The caller exports what the app and worker need (DATABASE_URL, BGMIGRATE_TASK_MODULES, ...).
set -uo pipefail
backend=$1 app_dir=$2 venv=$3
shift 3
export BGMIGRATE_BACKEND=$backend
export BGMIGRATE_BROKER_URL=${BGMIGRATE_BROKER_URL:-redis://127.0.0.1:6379/4}
export PYTHONPATH=$app_dir${PYTHONPATH:+:$PYTHONPATH}
cd "$app_dir" || exit 2
log=$(mktemp /tmp/trial-worker-XXXX.log)
"$venv/bin/bgmigrate" worker --backend "$backend" >"$log" 2>&1 &
worker=$!
# wait (with a deadline) until the worker says it is ready
ready='Starting worker|ready\.|registered tasks'
for _ in $(seq 1 120); do
  grep -Eq "$ready" "$log" && break
  kill -0 "$worker" 2>/dev/null || break
  sleep 0.5
done
timeout 180 "$venv/bin/python" "$@"
rc=$?
kill -TERM "$worker" 2>/dev/null
wait "$worker" 2>/dev/null
echo "---- worker log ($backend): $log"
tail -n 40 "$log"
exit $rc
