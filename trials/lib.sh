# Shared steps of a real-application trial (sourced by trials/<app>/run.sh).
# Needs: APP (name), REPO (owner/name), COMMIT, SUB (the app's directory inside the repo),
# PKG (the package scan/rewrite get, relative to SUB), PYTEST_ARGS (array), and the functions
# app_deps (install the app's own deps into $VENV) and hand_edits (the edits step d needed).
# Env: TRIAL_ROOT (default /work/trial-apps), BGMIGRATE_SRC (default /work/main),
#      MIRROR (default /work/.mirror), PY (default python3.12 from pyenv),
#      BACKEND (e.g. arq: `rewrite --backend $BACKEND`, which also writes the settings,
#      lifespan, dependency and compose services; the trial then sets no BGMIGRATE_TASK_MODULES).
set -uo pipefail
TRIALS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TRIAL_ROOT=${TRIAL_ROOT:-/work/trial-apps}
BGMIGRATE_SRC=${BGMIGRATE_SRC:-/work/main}
MIRROR=${MIRROR:-/work/.mirror}
PY=${PY:-/root/.pyenv/versions/3.12.1/bin/python}
export BGMIGRATE_BROKER_URL=${BGMIGRATE_BROKER_URL:-redis://127.0.0.1:6379/4}

say() { printf '\n=== %s: %s\n' "$APP" "$*"; }

fetch_app() {  # a clean checkout of the pinned commit, itself a git repo to diff against
  local git_dir=$MIRROR/${REPO/\//+}/repo
  [[ -d $git_dir/.git ]] && git_dir=$git_dir/.git
  rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"
  git --git-dir="$git_dir" archive "$COMMIT" | tar -x -C "$WORK" || return 1
  git -C "$WORK" init -q && git -C "$WORK" add -A . &&
    git -C "$WORK" -c user.email=trial@localhost -c user.name=trial commit -qm pristine
}

make_venv() {
  [[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
  app_deps
}

install_bgmigrate() {
  "$VENV/bin/pip" install -q -e "$BGMIGRATE_SRC[celery,arq,codemod]" 2>&1 | grep -v '^WARNING: Location'
  echo "bgmigrate from $BGMIGRATE_SRC at $(git -C "$BGMIGRATE_SRC" rev-parse --short HEAD)"
}

run_suite() {  # run_suite NAME: the app's suite with the thread-leak plugin; NAME.results
  (cd "$WORK/$SUB" && PATH=$VENV/bin:$PATH PYTHONPATH=$TRIALS \
    "$VENV/bin/python" -m pytest "${PYTEST_ARGS[@]}" -p threadleak -p no:cacheprovider -q -rA \
    >"$OUT/$1.out" 2>&1)
  grep -E '^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)' "$OUT/$1.out" | sed 's/ - .*//' | sort >"$OUT/$1.results"
  tail -n 1 "$OUT/$1.out"
  grep '^THREADLEAK' "$OUT/$1.out" | head -n 5
}

scan_and_rewrite() {
  (cd "$WORK/$SUB" &&
    "$VENV/bin/bgmigrate" scan -j 1 --no-cache "$PKG" | tee "$OUT/scan.txt"
    "$VENV/bin/bgmigrate" scan -j 1 --no-cache --format json "$PKG" >"$OUT/scan.json"
    "$VENV/bin/bgmigrate" rewrite ${BACKEND:+--backend "$BACKEND"} --diff -j 1 --no-cache "$PKG" >"$OUT/rewrite.diff"
    "$VENV/bin/bgmigrate" rewrite ${BACKEND:+--backend "$BACKEND"} -j 1 --no-cache "$PKG" 2>&1 | tee "$OUT/rewrite.out")
  git -C "$WORK" diff --shortstat
  git -C "$WORK" add -A . && git -C "$WORK" -c user.email=trial@localhost -c user.name=trial commit -qm rewritten
}

apply_hand_edits() {
  (cd "$WORK/$SUB" && hand_edits)
  if [[ -n ${BACKEND:-} ]]; then  # the same command again: it lists the hand-added @task modules
    (cd "$WORK/$SUB" && "$VENV/bin/bgmigrate" rewrite --backend "$BACKEND" -j 1 --no-cache "$PKG" 2>&1 | tail -n 12)
  fi
  git -C "$WORK" diff >"$OUT/handedits.diff"
  git -C "$WORK" diff --shortstat
}

compare() {  # compare A B: identical test outcomes?
  if diff "$OUT/$1.results" "$OUT/$2.results" >"$OUT/$1-vs-$2.diff"; then
    echo "outcomes of $2 identical to $1"
  else
    echo "outcomes of $2 DIFFER from $1:"; cat "$OUT/$1-vs-$2.diff"
  fi
}
