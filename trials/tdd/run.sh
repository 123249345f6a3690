#!/usr/bin/env bash
# Trial of bgmigrate on testdrivenio/fastapi-tdd-docker (the "summarizer" app of the
# TestDriven.io FastAPI course): Tortoise ORM on PostgreSQL, one BackgroundTasks call site that
# downloads an article and writes its NLP summary to the database; 27 pytest tests.
# Steps: a) its suite unchanged (pinned deps, then with bgmigrate installed), b) scan + rewrite,
# c) its suite again with the thread-leak plugin, d) worker (arq, celery) + one request.
APP=tdd REPO=testdrivenio/fastapi-tdd-docker COMMIT=13cff4273ad92ac2556b767d182d688f4fce933e
SUB=project PKG=app
source "$(dirname "$0")/../lib.sh"
WORK=$TRIAL_ROOT/$APP/src VENV=$TRIAL_ROOT/$APP/venv OUT=$TRIAL_ROOT/$APP/out
PYTEST_ARGS=()
DB=${DB_PREFIX:-trial}_tdd PORT=${HTTP_PORT:-18765}  # apart when two trials run at once
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
export DATABASE_TEST_URL=postgres://postgres@127.0.0.1:5432/${DB}_test

app_deps() {
  "$VENV/bin/pip" install -q -r "$WORK/project/requirements-dev.txt" 2>&1 | grep -v '^WARNING: Location'
  # unpinned transitive deps moved since the commit: the pydantic of its day (tortoise-orm
  # 0.20 breaks on pydantic >= 2.11) and lxml's split-out html cleaner (newspaper3k needs it)
  "$VENV/bin/pip" install -q 'pydantic==2.5.3' lxml_html_clean 2>&1 | grep -v '^WARNING: Location'
}

hand_edits() {  # none: the scan says migrate (BGM101 + BGM106: article download and NLP), so
  # rewrite puts @task on generate_summary; the worker opens the ORM through the app's own
  # start-up (worker lifespan). Until 2026-11-30 two edits were needed here: that @task (the
  # scan said keep-in-process) and a tortoise-orm >= 0.25 start-up fix forced by bgmigrate's
  # former pydantic >= 2.11 floor (see trials/README.md).
  :
}

upgrade_for_bgmigrate() {
  # bgmigrate needs pydantic >= 2.9 and tortoise-orm 0.20 breaks on >= 2.11: the app's re-lock
  # is the newest pydantic both accept (its own FastAPI 0.109.0 and tortoise-orm 0.20.0 stay)
  "$VENV/bin/pip" install -q 'pydantic>=2.9,<2.11' 2>&1 | grep -v '^WARNING: Location'
  "$VENV/bin/pip" list 2>/dev/null | grep -Ei '^(fastapi|starlette|pydantic|tortoise-orm) ' | tee "$OUT/versions.txt"
}

mkdir -p "$OUT"
for db in "$DB" "${DB}_test"; do
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
say fetch && fetch_app || exit 1
if [[ ${SUITES:-1} == 0 ]]; then  # SUITES=0: venv and bgmigrate only, no test-suite runs
say "venv + the app's deps + bgmigrate" && make_venv
install_bgmigrate
upgrade_for_bgmigrate
elif [[ ${QUICK:-} != 1 ]]; then  # QUICK=1: reuse the venv and the step-a results
say "venv + the app's deps" && make_venv
say "a0) suite, pristine deps" && run_suite a0
say "bgmigrate" && install_bgmigrate
say "a-bgm) suite with bgmigrate installed (its pydantic floor)" && run_suite a-bgm
upgrade_for_bgmigrate
say "a) suite with bgmigrate, pydantic re-locked" && run_suite a
else install_bgmigrate; fi
say "b) scan + rewrite" && scan_and_rewrite
[[ ${SUITES:-1} == 0 ]] || { say "c) suite after rewrite" && run_suite c && compare a c; }
say "d) hand edits" && apply_hand_edits
[[ ${SUITES:-1} == 0 ]] || { run_suite c2 && compare a c2; }
# step d: the article is served on loopback, the Punkt model is an empty one made here
export NLTK_DATA=$TRIAL_ROOT/$APP/nltk_data
mkdir -p "$NLTK_DATA/tokenizers/punkt" "$NLTK_DATA/tokenizers/punkt_tab/english"
touch "$NLTK_DATA"/tokenizers/punkt_tab/english/{collocations.tab,sent_starters.txt,abbrev_types.txt,ortho_context.tab}
(cd "$TRIALS/tdd" && exec "$VENV/bin/python" -m http.server "$PORT" --bind 127.0.0.1) >/dev/null 2>&1 &
http=$!
# without --backend the settings are not in pyproject.toml: the environment gives them
[[ -n ${BACKEND:-} ]] || export BGMIGRATE_TASK_MODULES=app.summarizer BGMIGRATE_WORKER_LIFESPAN=app.main:app
[[ -n ${BACKEND:-} ]] && export ONLY_BROKER=1  # the worker reads the rest from pyproject.toml
export EXPECT_TASKS=app.summarizer.generate_summary
for backend in ${BACKEND:-arq celery}; do
  say "d) worker --backend $backend"
  "$TRIALS/worker_trial.sh" "$backend" "$WORK/$SUB" "$VENV" "$TRIALS/tdd/trigger.py" \
    "http://127.0.0.1:$PORT/article.html" 2>&1 | tee "$OUT/d-$backend.out" | grep -E 'POST|summary|→|←|succeeded|failed|FAILED|Error|lifespan|worker ran'
done
kill "$http"
