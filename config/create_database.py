"""`python -m config.create_database`: create the PostgreSQL database named in DATABASE_URL if it
is missing, so `make run` works against a fresh server. Does nothing for SQLite."""

import os
import sys
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return 0
    name = urlsplit(url).path.lstrip("/")
    if not name:
        print("DATABASE_URL names no database", file=sys.stderr)
        return 2
    try:
        connection = psycopg2.connect(url, dbname="postgres", connect_timeout=5)
    except psycopg2.Error as exc:
        print(f"PostgreSQL at {url} is unreachable: {str(exc).strip()}", file=sys.stderr)
        return 1
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
