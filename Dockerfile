# One image for every service of the cluster (Ray head, parameter server, Ray
# workers, one-off client runs), so every node has the same Python and Ray.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user. Its ~/.ray is where the cluster's shared Ray auth token
# lives (a named volume), /state holds the server's jobs and /auth the descent
# server's bearer token (two more volumes); creating them here gives the
# volumes this ownership.
RUN useradd --create-home --uid 1000 descent \
    && mkdir -p /home/descent/.ray /state /data /auth \
    && chown descent:descent /home/descent/.ray /state /auth \
    && chmod 700 /auth

WORKDIR /opt/descent
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY formats ./formats
COPY server ./server
COPY worker ./worker
COPY client ./client
RUN pip install . && python -c "import ray, server, worker, client, proto, formats"

USER descent
WORKDIR /home/descent
CMD ["descent", "--help"]
