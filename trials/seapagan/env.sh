# Environment of the seapagan/fastapi-template trial: everything on loopback (as its CI sets it).
export SECRET_KEY=test_jwt_secret_key_for_pytest_at_least_32_characters_long_abc123
export DB_USER=postgres DB_PASSWORD=postgres DB_ADDRESS=127.0.0.1 DB_PORT=5432
export DB_NAME=${DB_PREFIX:-trial}_sea TEST_DB_NAME=${DB_PREFIX:-trial}_sea_test
export MAIL_FROM=test@example.com
export REDIS_HOST=127.0.0.1 REDIS_DB=4
# the suite as configured, run serially (no xdist/coverage) so the thread-leak plugin sees every test
export SEA_PYTEST_ARGS="-o addopts= -m not\ rewrite -p no:randomly -p no:sugar -p no:cacheprovider"
# step d: mail goes to the aiosmtpd Maildir server on 127.0.0.1:8025
export MAIL_SERVER=127.0.0.1 MAIL_PORT=${SMTP_PORT:-8025} MAIL_STARTTLS=false MAIL_SSL_TLS=false
export MAIL_USE_CREDENTIALS=false MAIL_VALIDATE_CERTS=false
export BGMIGRATE_TASK_MODULES=app.managers.email
export I_READ_THE_DAMN_DOCS=true  # the app refuses to start without it (its pytest env sets it)
export CACHE_ENABLED=true RATE_LIMIT_ENABLED=false LOG_FILENAME=test_api.log  # as its pytest env
