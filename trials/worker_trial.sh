#!/usr/bin/env bash
# Step d of a trial: start `bgmigrate worker --backend BACKEND` on Redis db 4, run the app's
# trigger (its requests), and report whether the worker did the tasks' work.
# usage: worker_trial.sh BACKEND APP_DIR VENV TRIGGER [TRIGGER ARGS...]
# The caller exports what the app and worker need (DATABASE_URL, BGMIGRATE_TASK_MODULES, ...)
# and EXPECT_TASKS, the tasks the worker must be seen to run (NAME, or NAME=N: at least N runs);
# WORKER_LOG names the worker's log file (default: a new file in /tmp).
# ONLY_BROKER=1 (the proof of issue #13, after `rewrite --backend BACKEND`): every BGMIGRATE_*
# variable but BGMIGRATE_BROKER_URL is removed and the worker is `bgmigrate worker` with no
# option: backend, task modules and worker lifespan come from the project's pyproject.toml.
set -uo pipefail
backend=$1 app_dir=$2 venv=$3
shift 3
export BGMIGRATE_BROKER_URL=${BGMIGRATE_BROKER_URL:-redis://127.0.0.1:6379/4}
cmd=("$venv/bin/bgmigrate" worker)
if [[ ${ONLY_BROKER:-} == 1 ]]; then
  for name in $(compgen -e | grep '^BGMIGRATE_' | grep -vx 'BGMIGRATE_BROKER_URL'); do unset "$name"; done
  echo "BGMIGRATE_* in the environment: $(compgen -e | grep '^BGMIGRATE_' | tr '\n' ' ')"
else
  export BGMIGRATE_BACKEND=$backend
  cmd+=(--backend "$backend")
fi
export PYTHONPATH=$app_dir${PYTHONPATH:+:$PYTHONPATH}
cd "$app_dir" || exit 2
log=${WORKER_LOG:-$(mktemp /tmp/trial-worker-XXXX.log)}
"${cmd[@]}" >"$log" 2>&1 &
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
# EXPECT_TASKS: task names the worker itself must have run (an effect alone could have come
# from the web process running the task in-process)
for spec in ${EXPECT_TASKS:-}; do
  name=${spec%%=*} want=1
  [[ $spec == *=* ]] && want=${spec#*=}
  # distinct job ids: a line can be logged twice (arq's handler and the root logger's)
  runs=$(grep -oE "(← [^ ]+:$name ●|Task $name\[[^]]+\] succeeded)" "$log" | sort -u | wc -l)
  if ((runs >= want)); then
    echo "worker ran $name ($runs runs, $want expected)"
  else
    echo "FAILED: the worker ran $name $runs times, $want expected"; rc=1
  fi
done
exit $rc
