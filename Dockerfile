# The bot for a team: one process for every platform with credentials (interview-bot run).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    INTERVIEW_BOT_DB=/data/interview-bot.sqlite3 \
    INTERVIEW_BOT_ADMIN_HOST=0.0.0.0 \
    INTERVIEW_BOT_ADMIN_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY question_bank ./question_bank
COPY seeds ./seeds
RUN pip install . \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /data && chown bot:bot /data

USER bot
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request, sys; port = os.environ.get('INTERVIEW_BOT_ADMIN_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"

ENTRYPOINT ["interview-bot"]
CMD ["run"]
