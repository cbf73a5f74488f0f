"""Sessions: a session key planted before sign-in is not the one after it (no session
fixation), signing out ends the session on the server (the old cookie leads to the sign-in
page), and the production settings make the session and CSRF cookies Secure, the session cookie
HttpOnly, both SameSite=Lax.

Sign-in throttling: after 5 failures for one username (from any addresses) or 20 from one
address, sign-ins are refused with 429 and a message that does not tell whether the account
exists, even with the right password, until the window passes; a success clears the username's
count; the Django admin's sign-in shares the counts; failures are logged without the password;
the counts are in Redis in the services mode."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from tests import factories
from tests.security.access_helpers import production_probe


@pytest.fixture
def kim(db: None, private_cache: None) -> Any:
    department = factories.make_department("Community")
    user = factories.make_user("kim")
    factories.add_member(user, department)
    return user


@pytest.fixture
def private_cache(settings: Any) -> None:
    """Sign-in throttle counts of this test alone (config/login.py keeps them in the cache),
    and a fast password hash: these tests sign in dozens of times."""
    from django.core.cache import cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "session-tests",
        }
    }
    cache.clear()


def sign_in(client: Client, path: str = "/accounts/login/") -> Any:
    return client.post(path, {"username": "kim", "password": factories.PASSWORD})


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_session_key_planted_before_sign_in_is_not_the_one_after(kim: Any, path: str) -> None:
    kim.is_staff = True
    kim.save()
    # The attacker's session, as if set in the victim's browser before they sign in.
    planted = SessionStore()
    planted["planted"] = True
    planted.create()
    assert planted.session_key is not None
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key

    response = sign_in(client, path)

    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != planted.session_key
    assert not SessionStore().exists(planted.session_key)
    # The planted cookie is worth nothing to the attacker now.
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert attacker.get("/inbox/")["Location"].startswith("/accounts/login/")
    assert client.get("/inbox/").status_code == 200


def test_signing_out_ends_the_session_on_the_server(kim: Any) -> None:
    client = Client()
    assert sign_in(client).status_code == 302
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/inbox/").status_code == 200

    assert client.post("/accounts/logout/").status_code == 302

    assert not SessionStore().exists(old_key)
    # Someone who copied the cookie before the sign-out replays it.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    response = replay.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert replay.get("/api/v1/me/").status_code in (401, 403)


def test_signing_out_needs_a_post(kim: Any) -> None:
    # A GET (an <img> on a foreign page) must not sign anybody out.
    client = Client()
    client.force_login(kim)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/inbox/").status_code == 200


def test_production_cookies_are_secure_httponly_and_lax(kim: Any, settings: Any) -> None:
    production = production_probe()["settings"]
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production["CSRF_COOKIE_SECURE"] is True
    assert production["CSRF_COOKIE_SAMESITE"] == "Lax"

    # The cookies a sign-in sets under those settings carry the flags.
    for name in (
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_SAMESITE",
    ):
        setattr(settings, name, production[name])
    client = Client()
    page = client.get("/accounts/login/", secure=True)
    csrf_cookie = page.cookies["csrftoken"]
    assert csrf_cookie["secure"] is True
    assert csrf_cookie["samesite"] == "Lax"
    response = client.post(
        "/accounts/login/", {"username": "kim", "password": factories.PASSWORD}, secure=True
    )
    session_cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session_cookie["secure"] is True
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"


# Sign-in throttling (config/login.py): the settings' defaults, 5 per username, 20 per address,
# a 15-minute window.
WINDOW = 900


def attempt(
    username: str, password: str = "wrong", *, address: str = "203.0.113.7", **extra: Any
) -> Any:
    return Client(REMOTE_ADDR=address, **extra).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def refused_with_429(response: Any) -> bool:
    return bool(
        response.status_code == 429
        and "Too many failed sign-in attempts" in response.content.decode()
        and response["Retry-After"] == str(WINDOW)
    )


def test_five_failures_for_one_username_from_many_addresses_lock_it_until_the_window_passes(
    kim: Any,
) -> None:
    with time_machine.travel("2030-03-01 10:00", tick=False) as clock:
        for n in range(5):
            assert attempt("kim", address=f"198.51.100.{n}").status_code == 200
        # The right password, from a fresh address: refused all the same.
        assert refused_with_429(attempt("kim", factories.PASSWORD, address="192.0.2.1"))
        # Other users are not locked out with kim.
        factories.make_user("lou")
        assert attempt("lou", factories.PASSWORD).status_code == 302

        clock.shift(WINDOW - 5)
        assert refused_with_429(attempt("kim", factories.PASSWORD))
        clock.shift(10)
        assert attempt("kim", factories.PASSWORD).status_code == 302


def test_a_unicode_variant_of_the_username_counts_against_the_account_it_tries(kim: Any) -> None:
    # Django's form NFKC-normalizes the username, so "\uff4bim" (a full-width k) signs in as kim:
    # its failures and its refusal must be kim's, or it would guess kim's password unthrottled.
    with time_machine.travel("2030-03-01 10:00", tick=False):
        for n in range(5):
            assert attempt("\uff4bim", address=f"198.51.100.{n}").status_code == 200
        assert refused_with_429(attempt("kim", factories.PASSWORD, address="192.0.2.1"))
        assert refused_with_429(attempt("\uff4bim", factories.PASSWORD, address="192.0.2.2"))


def test_twenty_failures_from_one_address_lock_that_address_for_every_username(
    kim: Any,
) -> None:
    with time_machine.travel("2030-03-01 10:00", tick=False) as clock:
        for n in range(20):
            assert attempt(f"guess{n}").status_code == 200
        assert refused_with_429(attempt("kim", factories.PASSWORD))
        # A forged X-Forwarded-For does not dodge the count: no proxy is trusted by default.
        forged = attempt("kim", factories.PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
        assert refused_with_429(forged)
        # Another address signs in.
        assert attempt("kim", factories.PASSWORD, address="192.0.2.1").status_code == 302
        clock.shift(WINDOW + 1)
        assert attempt("kim", factories.PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(kim: Any, settings: Any) -> None:
    settings.LOGIN_THROTTLE_TRUSTED_PROXIES = 1
    proxy = "10.0.0.2"
    for n in range(20):
        # The client may send its own X-Forwarded-For; the proxy appends what it saw.
        forwarded = f"192.0.2.{n}, 203.0.113.7"
        attempt(f"guess{n}", address=proxy, HTTP_X_FORWARDED_FOR=forwarded)
    blocked = attempt("kim", factories.PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert refused_with_429(blocked)
    other = attempt("kim", factories.PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.50")
    assert other.status_code == 302


def test_a_successful_sign_in_clears_the_usernames_count(kim: Any) -> None:
    for _ in range(4):
        attempt("kim", address="198.51.100.1")
    assert attempt("kim", factories.PASSWORD, address="198.51.100.1").status_code == 302
    for _ in range(4):
        attempt("kim", address="198.51.100.2")
    assert attempt("kim", factories.PASSWORD, address="198.51.100.3").status_code == 302


def test_the_refusal_does_not_tell_whether_the_username_exists(kim: Any) -> None:
    for username in ("kim", "nobody"):
        for n in range(5):
            attempt(username, address=f"198.51.100.{n}")
    known = attempt("kim", factories.PASSWORD, address="192.0.2.1")
    unknown = attempt("nobody", "wrong", address="192.0.2.2")
    assert refused_with_429(known) and refused_with_429(unknown)

    def message(response: Any) -> str:
        content = response.content.decode()
        return content[content.index('role="alert"') :].split("</p>")[0]

    assert message(known) == message(unknown)
    assert "kim" not in message(known)


def test_the_django_admin_sign_in_is_throttled_with_the_same_counts(kim: Any) -> None:
    kim.is_staff = True
    kim.save()
    for n in range(3):
        attempt("kim", address=f"198.51.100.{n}")
    for n in range(2):
        Client(REMOTE_ADDR=f"198.51.100.{10 + n}").post(
            "/admin/login/", {"username": "kim", "password": "wrong"}
        )
    refused = Client(REMOTE_ADDR="192.0.2.1").post(
        "/admin/login/", {"username": "kim", "password": factories.PASSWORD}
    )
    assert refused_with_429(refused)


def test_failures_are_logged_without_the_password(kim: Any, caplog: Any) -> None:
    secret_guess = "Tr0ub4dor&3-guess"
    with caplog.at_level("DEBUG"):
        for _ in range(6):
            attempt("kim", secret_guess)
        attempt("kim", factories.PASSWORD)
    failures = [r for r in caplog.records if r.name == "inbox.login"]
    assert len(failures) == 7  # five failures, two refusals
    assert "kim" in failures[0].getMessage() and "203.0.113.7" in failures[0].getMessage()
    logged = "\n".join(f"{r.getMessage()} {r.args} {r.__dict__}" for r in caplog.records)
    assert secret_guess not in logged
    assert factories.PASSWORD not in logged


def test_the_counts_live_in_the_shared_cache_with_the_window_as_expiry(db: None) -> None:
    """With REDIS_URL (the services mode, several web processes) the counts are in Redis, so
    every web process refuses the same sign-ins."""
    if not settings.REDIS_URL:
        pytest.skip("the embedded mode has one process and an in-process cache")
    import redis
    from django.core.cache import cache

    from config.login import _address_key, _username_key

    username, address = "kim-redis-check", "198.51.100.77"
    cache.delete_many([_username_key(username), _address_key(address)])
    try:
        attempt(username, address=address)
        server = redis.Redis.from_url(settings.REDIS_URL)
        key = cache.make_key(_username_key(username))
        assert int(server.get(key) or 0) == 1
        assert 0 < server.ttl(key) <= WINDOW
        assert int(server.get(cache.make_key(_address_key(address))) or 0) == 1
    finally:
        cache.delete_many([_username_key(username), _address_key(address)])


def test_without_its_cache_the_throttle_lets_the_password_check_decide(
    kim: Any, settings: Any
) -> None:
    # A Redis that refuses connections: signing in must still work (the outage is logged).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    assert attempt("kim").status_code == 200
    assert attempt("kim", factories.PASSWORD).status_code == 302
