# The audit service: `docker run ... auditor serve` (the default command) or any other `auditor` command.
#
# A production install: `pip install .` without extras, so the demo's test doubles (moto, Flask, the
# Kubernetes API emulator's dependencies: the [demo] extra) are not in the image.
# Made for a read-only root filesystem (`docker run --read-only`, Kubernetes `readOnlyRootFilesystem: true`):
# the process writes only to /data (the SQLite default, mount a volume) and /tmp (temporary files, caches;
# mount a tmpfs / emptyDir). tests/test_packaging.py checks this file's structure.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AUDITOR_LOG_FORMAT=json \
    AUDITOR_API__HOST=0.0.0.0 \
    AUDITOR_API__PORT=8080 \
    AUDITOR_DATABASE_URL=sqlite:////data/auditor.db \
    XDG_CACHE_HOME=/tmp/.cache

WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditor ./auditor
RUN pip install . && rm -rf /src

# A fixed non-root user (the Deployment's runAsUser matches it); /data holds the SQLite default.
RUN groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid auditor --home-dir /home/auditor --create-home auditor \
    && mkdir -p /data && chown auditor:auditor /data
USER 10001:10001
# Relative paths (a `sqlite:///auditor.db` URL, `auditor collect -o snap.json`) land on the volume.
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# /healthz is the API's liveness route (auditor/api/routes/health.py); the port follows AUDITOR_API__PORT.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('AUDITOR_API__PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=2).status == 200 else 1)"]

ENTRYPOINT ["auditor"]
CMD ["serve"]
