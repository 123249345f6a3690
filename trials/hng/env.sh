# Environment of the hngprojects/hng_boilerplate_python_fastapi_web trial: the settings its
# .env.sample lists (python-decouple reads them from the environment), all on loopback.
export PYTHON_ENV=dev TESTING=''
export DB_TYPE=postgresql DB_HOST=127.0.0.1 DB_PORT=5432 DB_USER=postgres DB_PASSWORD=postgres
export DB_NAME=${DB_PREFIX:-trial}_hng
export SECRET_KEY=trial-secret-key-for-the-hng-boilerplate-at-least-32-chars ALGORITHM=HS256
export ACCESS_TOKEN_EXPIRE_MINUTES=3000 JWT_REFRESH_EXPIRY=7
export FRONTEND_URL=http://127.0.0.1:3000/login-success GOOGLE_CLIENT_ID='' GOOGLE_CLIENT_SECRET=''
export FLUTTERWAVE_SECRET='' STRIPE_SECRET_KEY='' STRIPE_WEBHOOK_SECRET=''
export TWILIO_ACCOUNT_SID=MOCK_ACCOUNT_SID TWILIO_AUTH_TOKEN=MOCK_AUTH_TOKEN TWILIO_PHONE_NUMBER=TWILIO_PHONE_NUMBER
# its mail goes out over implicit TLS with a login (fastapi-mail MAIL_SSL_TLS, VALIDATE_CERTS;
# smtplib.SMTP_SSL): to smtpd.py on 127.0.0.1, whose self-signed certificate SSL_CERT_FILE trusts
export MAIL_SERVER=127.0.0.1 MAIL_PORT=${SMTP_PORT:-8465} MAIL_USERNAME=admin@example.com
export MAIL_PASSWORD=trial MAIL_FROM=noreply@example.com
