# The audit service: `docker run ... auditor serve` (the default command) or any other `auditor` command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AUDITOR_LOG_FORMAT=json \
    AUDITOR_API__HOST=0.0.0.0 \
    AUDITOR_API__PORT=8080 \
    AUDITOR_DATABASE_URL=sqlite:////data/auditor.db

WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditor ./auditor
RUN pip install . && rm -rf /src

# A fixed non-root user (the Deployment's runAsUser matches it); /data holds the SQLite default.
RUN groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid auditor --home-dir /home/auditor --create-home auditor \
    && mkdir -p /data && chown auditor:auditor /data
USER 10001:10001
WORKDIR /home/auditor
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"

ENTRYPOINT ["auditor"]
CMD ["serve"]
