#!/usr/bin/env bash
# Trial of bgmigrate on seapagan/fastapi-template: SQLAlchemy (async) on PostgreSQL, users,
# API keys, admin pages, cache, rate limits; welcome / password-reset emails sent with
# BackgroundTasks (fastapi-mail); ~700 pytest tests.
# Steps: a) its suite unchanged (before and after installing bgmigrate), b) scan + rewrite,
# c) its suite again with the thread-leak plugin, d) hand edits + worker (arq, celery) + POST
# /register/, the welcome email observed in a Maildir served by aiosmtpd on loopback.
APP=seapagan REPO=seapagan/fastapi-template COMMIT=2fdf9786aa99922031ea7003d2edf857c7b21a1c
SUB=. PKG=app
source "$(dirname "$0")/../lib.sh"
WORK=$TRIAL_ROOT/$APP/src VENV=$TRIAL_ROOT/$APP/venv OUT=$TRIAL_ROOT/$APP/out
source "$TRIALS/seapagan/env.sh"
# its pytest config, run serially without coverage so that the leak plugin sees every test
PYTEST_ARGS=(-o addopts= -m "not rewrite" -p no:randomly -p no:sugar)

app_deps() {  # its exported lock, less the docs-only git dependency (not on PyPI)
  grep -v 'git+' "$WORK/requirements-dev.txt" >"$OUT/requirements.txt"
  "$VENV/bin/pip" install -q -r "$OUT/requirements.txt" 2>&1 | grep -v '^WARNING: Location'
}

hand_edits() {  # BGM105: a module-level @task instead of the bound fm.send_message; and the
  # `if background_tasks:` checks that an empty RequestBatch (falsy, __len__ 0) turned around.
  # With BACKEND (rewrite --backend), the function only: running the command again adds @task.
  python3 - <<'PY'
import os
import re
p = "app/managers/email.py"
s = open(p).read()
if not os.environ.get("BACKEND"):
    s = re.sub(r"from bgmigrate import ([^\n]*)\n", lambda m: f"from bgmigrate import {m.group(1)}, task\n", s, count=1)
    s = s.replace("class EmailManager:", "@task\nclass EmailManager:", 1)  # on the function below
s = s.replace("class EmailManager:", '''async def send_message(
    message: MessageSchema, template_name: str | None = None
) -> None:
    """Send one email (a queue worker builds its own mail configuration)."""
    await FastMail(EmailManager().conf).send_message(
        message, template_name=template_name
    )


class EmailManager:''', 1)
s, n = re.subn(r"        fm = FastMail\(self.conf\)\n(        # [^\n]*\n)*"
               r"        backgroundtasks.add_task\(\n            fm.send_message, ",
               "        backgroundtasks.add_task(\n            send_message, ", s, count=1)
assert n == 1, "template_send call site not found"
open(p, "w").write(s)
if os.environ.get("BACKEND"):  # RequestBatch is truthy since 4811332: nothing to undo
    raise SystemExit
p = "app/managers/user.py"
s = open(p).read()
s = s.replace("        if background_tasks:\n", "        if background_tasks is not None:\n")
open(p, "w").write(s)
PY
}

mkdir -p "$OUT"
for db in "$DB_NAME" "$TEST_DB_NAME"; do
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
say fetch && fetch_app || exit 1
if [[ ${SUITES:-1} == 0 ]]; then  # SUITES=0: venv and bgmigrate only, no test-suite runs
say "venv + the app's deps + bgmigrate" && make_venv
install_bgmigrate
elif [[ ${QUICK:-} != 1 ]]; then  # QUICK=1: reuse the venv and the step-a results
say "venv + the app's deps" && make_venv
say "a0) suite before bgmigrate" && run_suite a0
say "bgmigrate" && install_bgmigrate
"$VENV/bin/pip" check
say "a) suite with bgmigrate installed" && run_suite a && compare a0 a
else install_bgmigrate; fi
say "b) scan + rewrite" && scan_and_rewrite
(cd "$WORK" && "$VENV/bin/ruff" check app --output-format concise | tail -n 8) | tee "$OUT/ruff-after-rewrite.txt"
[[ ${SUITES:-1} == 0 ]] || { say "c) suite after rewrite" && run_suite c && compare a c; }
say "d) hand edits" && apply_hand_edits
[[ ${SUITES:-1} == 0 ]] || { run_suite c2 && compare a c2; }
box=$TRIAL_ROOT/$APP/maildir
rm -rf "$box" && "$VENV/bin/python" -c "import mailbox, sys; mailbox.Maildir(sys.argv[1], create=True)" "$box"
"$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$MAIL_PORT" -c aiosmtpd.handlers.Mailbox "$box" >/dev/null 2>&1 &
smtp=$!
[[ -n ${BACKEND:-} ]] && export ONLY_BROKER=1  # the worker reads the rest from pyproject.toml
export EXPECT_TASKS=app.managers.email.send_message
for backend in ${BACKEND:-arq celery}; do
  say "d) worker --backend $backend"
  "$TRIALS/worker_trial.sh" "$backend" "$WORK" "$VENV" "$TRIALS/seapagan/trigger.py" "$box" 2>&1 |
    tee "$OUT/d-$backend.out" | grep -E 'POST|mail to|→|←|succeeded|failed|FAILED|Error|lifespan|worker ran'
done
kill "$smtp"
