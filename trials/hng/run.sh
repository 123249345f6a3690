#!/usr/bin/env bash
# Proof of issue #13 on hngprojects/hng_boilerplate_python_fastapi_web (the HNG internship's
# FastAPI boilerplate: SQLAlchemy on PostgreSQL, users, organisations, newsletters, waitlist,
# squeeze pages...), whose 12 e-mail call sites `bgmigrate scan` judges `migrate`: a fresh
# checkout ported by ONE command, `bgmigrate rewrite --backend BACKEND api`, then the app run by
# uvicorn and `bgmigrate worker` with only BGMIGRATE_BROKER_URL (and the app's own settings,
# env.sh) in the environment; every site's endpoint hit once (trigger.py), each mail observed in
# the Maildir of a local SMTPS server, and the worker's log must show that it ran each task.
# Needs root (a mount namespace for the web process's resolv.conf; ports 53 and 443 on
# loopback): one run at a time.
# usage: BACKEND=arq|celery trials/hng/run.sh
#   env: TRIAL_ROOT, BGMIGRATE_SRC, BGMIGRATE_BROKER_URL, HTTP_PORT (18780), SMTP_PORT (8465),
#        DNS_ADDR (127.0.0.2: the loopback address of the DNS stub), DB_PREFIX
APP=hng REPO=hngprojects/hng_boilerplate_python_fastapi_web
COMMIT=5a01cac16e263f598896c0c57bd054007ad18b6b SUB=. PKG=api
source "$(dirname "$0")/../lib.sh"
: "${BACKEND:?BACKEND=arq or BACKEND=celery}"
WORK=$TRIAL_ROOT/$APP/src VENV=$TRIAL_ROOT/$APP/venv OUT=$TRIAL_ROOT/$APP/out-$BACKEND
source "$TRIALS/hng/env.sh"
HTTP_PORT=${HTTP_PORT:-18780} DNS_ADDR=${DNS_ADDR:-127.0.0.2}

app_deps() {  # its pinned requirements, and aiosmtpd for the trial's mail server
  "$VENV/bin/pip" install -q -r "$WORK/requirements.txt" aiosmtpd 2>&1 | grep -v '^WARNING: Location'
}

hand_edits() {  # what the checklist leaves: its frozen requirements.txt pins pydantic==2.8.2,
  # pydantic-settings==2.3.4 and typer==0.12.3, below bgmigrate's floors (2.11, 2.7, 0.12.4): re-locked:
  # each pin whose package installing bgmigrate moved, set to the version installed
  "$VENV/bin/python" - <<'PY'
import importlib.metadata
import re

path = "requirements.txt"
lines = open(path).read().splitlines(keepends=True)
for index, line in enumerate(lines):
    match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
    if match is None:
        continue
    name, pinned = match.groups()
    installed = importlib.metadata.version(name)
    if installed != pinned:
        lines[index] = f"{name}=={installed}\n"
        print(f"requirements.txt: {name}=={pinned} -> {installed}")
open(path, "w").write("".join(lines))
PY
}

deploy_deps() {  # as a deployment installs the ported app: its requirements.txt, now naming
  # bgmigrate[BACKEND] (satisfied by the editable install: bgmigrate is not on PyPI)
  "$VENV/bin/pip" install -q -r "$WORK/requirements.txt" 2>&1 | grep -v '^WARNING: Location'
  "$VENV/bin/pip" check | tail -n 3
}

mkdir -p "$OUT"
psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"
say fetch && fetch_app || exit 1
say "venv + the app's deps + bgmigrate" && make_venv
install_bgmigrate
say "b) scan + rewrite --backend $BACKEND" && scan_and_rewrite
say "d) hand edits" && apply_hand_edits
say "d) pip install -r requirements.txt" && deploy_deps

# the environment of a deployment, on loopback: SMTPS with a self-signed certificate the app
# trusts (SSL_CERT_FILE; REQUESTS_CA_BUNDLE for `requests`), a DNS server answering MX and A
# (127.0.0.1) for any name (the app checks each address's MX), Google's token-info endpoint
run=$TRIAL_ROOT/$APP/run && rm -rf "$run" && mkdir -p "$run"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1,DNS:www.googleapis.com" \
  -keyout "$run/key.pem" -out "$run/cert.pem" 2>/dev/null
export SSL_CERT_FILE=$run/cert.pem REQUESTS_CA_BUNDLE=$run/cert.pem
"$VENV/bin/python" -c "import mailbox, sys; mailbox.Maildir(sys.argv[1], create=True)" "$run/maildir"
"$VENV/bin/python" "$TRIALS/hng/smtpd.py" "$run/maildir" "$run/cert.pem" "$run/key.pem" "$MAIL_PORT" >"$run/smtpd.log" 2>&1 &
smtp=$!
"$VENV/bin/python" "$TRIALS/hng/dns_stub.py" "$DNS_ADDR" >"$run/dns.log" 2>&1 &
dns=$!
"$VENV/bin/python" "$TRIALS/hng/google_stub.py" "$run/cert.pem" "$run/key.pem" >"$run/google.log" 2>&1 &
google=$!
echo "nameserver $DNS_ADDR" >"$run/resolv.conf"

# the web process as deployed: uvicorn, its own settings, only BGMIGRATE_BROKER_URL of bgmigrate's
# (backend and task modules come from the pyproject.toml the command wrote); its own
# /etc/resolv.conf (a mount namespace) naming the DNS stub
for name in $(compgen -e | grep '^BGMIGRATE_' | grep -vx 'BGMIGRATE_BROKER_URL'); do unset "$name"; done
say "d) uvicorn main:app on 127.0.0.1:$HTTP_PORT"
(cd "$WORK" && exec unshare --mount sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
  "$run/resolv.conf" "$VENV/bin/uvicorn" main:app --host 127.0.0.1 --port "$HTTP_PORT") >"$OUT/web.log" 2>&1 &
web=$!

export ONLY_BROKER=1 WORKER_LOG=$OUT/worker.log
# every task the worker must be seen to run, with how many runs (an effect alone could come
# from the web process running the task in-process)
export EXPECT_TASKS="api.core.dependencies.email_sender.send_email=9 api.utils.send_mail.send_magic_link=1
  api.utils.send_mail.send_contact_mail=1 api.utils.send_mail.send_faq_inquiry_mail=1"
say "d) bgmigrate worker ($BACKEND from pyproject.toml)"
"$TRIALS/worker_trial.sh" "$BACKEND" "$WORK" "$VENV" "$TRIALS/hng/trigger.py" \
  "http://127.0.0.1:$HTTP_PORT" "$run/maildir" 2>&1 | tee "$OUT/d.out" |
  grep -E 'BGMIGRATE_|POST|PUT|mail|→|←|succeeded|failed|FAILED|Error|lifespan|worker ran'
rc=${PIPESTATUS[0]}
kill "$web" "$smtp" "$dns" "$google" 2>/dev/null
wait "$web" 2>/dev/null
grep -E 'Application startup|Traceback|Error' "$OUT/web.log" | head -n 5
exit "$rc"
