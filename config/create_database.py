"""`python -m config.create_database`: create the PostgreSQL database named in DATABASE_URL if it
is missing, so `make run` works against a fresh server. Does nothing for SQLite."""

import os
import sys
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql


def ensure_database(url: str, name: str) -> bool:
    """Create database `name` on the server of `url` unless it exists; True if it was created."""
    # Keyword arguments override the URL's own: the same server and user, the maintenance db.
    connection = psycopg2.connect(url, dbname="postgres", connect_timeout=5)
    connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is not None:
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return 0
    name = urlsplit(url).path.lstrip("/")
    if not name:
        print("DATABASE_URL names no database", file=sys.stderr)
        return 2
    try:
        if ensure_database(url, name):
            print(f"created database {name}")
    except psycopg2.Error as exc:
        print(f"PostgreSQL at {url} is unreachable: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
