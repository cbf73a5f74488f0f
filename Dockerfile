# One image for every process of the product (web, worker, beat, migrate); docker-compose.yml
# picks the command. See docs/operations.md.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INBOX_VAR_DIR=/app/var
WORKDIR /app
# Dependencies first: a code change rebuilds from the COPY below, not the pip install.
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are collected into the image (WhiteNoise serves them), so a new web replica
# starts serving at once. The development settings suffice: nothing here reads a secret.
RUN python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 inbox \
    && mkdir -p /app/var \
    && chown -R inbox /app/var
USER inbox
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "config.asgi:application"]
