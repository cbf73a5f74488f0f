"""Say clearly whether the PostgreSQL and Redis the tests need are reachable, before pytest runs."""

import os
import sys

import psycopg2
import redis


def main() -> int:
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]
    problems = []
    try:
        # The tests create and drop their own database (test_<name>); the server is what must
        # answer, through the maintenance database as Django's test runner does.
        psycopg2.connect(database_url, dbname="postgres", connect_timeout=3).close()
    except psycopg2.Error as exc:
        problems.append(f"PostgreSQL at {database_url} is unreachable: {str(exc).strip()}")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {redis_url} is unreachable: {exc}")
    if problems:
        print("The test suite needs a running PostgreSQL and Redis:", file=sys.stderr)
        for problem in problems:
            print("  - " + problem, file=sys.stderr)
        print("Start them, or point DATABASE_URL / REDIS_URL at running ones.", file=sys.stderr)
        return 1
    print(f"services: PostgreSQL and Redis reachable ({database_url}, {redis_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
