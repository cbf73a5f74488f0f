"""schemathesis against the app's own OpenAPI schema: generated requests to every operation, as
an admin, with a real database, and no answer may be a server error.

Deterministic (derandomized, a fixed number of examples per operation) and bounded to about a
minute on two cores. Most generated ids would only ever meet a 404, so every one but 0 is
replaced by the id of a seeded object of the right kind: the bodies then reach the actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from channels_integrations.models import Platform
from tests import factories
from tests.api.conftest import token_for
from tests.inbox.person_factories import make_channel
from tests.moderation.factories import make_case

EXAMPLES_PER_OPERATION = 10


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes "old" database connections at the start and end of each request,
    which would close the test's transaction; Django's test client switches that off the same
    way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db: None, department: Any, admin_user: Any) -> dict[str, Any]:
    """One object of each kind the operations take an id of, and an admin's token."""
    mastodon = factories.make_mastodon_channel(department=department, name="Mastodon @brand")
    conversation = factories.make_conversation(mastodon)
    facebook = make_channel(Platform.FACEBOOK, department=department, name="Facebook page")
    case = make_case(facebook, text="Du Idiot!")
    contact = conversation.contact
    assert contact is not None
    return {
        "token": token_for(admin_user, "fuzz"),
        "ids": {
            "/api/v1/conversations/": conversation.pk,
            "/api/v1/messages/": conversation.messages.get().pk,
            "/api/v1/moderation/cases/": case.pk,
            "/api/v1/persons/": contact.person_id,
            "/api/v1/contacts/": conversation.contact_id,
            "/api/v1/channels/": mastodon.pk,
        },
    }


# Loaded at collection: the schema view reads no database rows.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_with_a_server_error(case: Any, seeded: dict[str, Any]) -> None:
    parameters = case.path_parameters or {}
    generated = parameters.get("id")  # drf-spectacular names the views' `pk` "id"
    if isinstance(generated, int) and generated != 0:
        prefix = next(p for p in seeded["ids"] if case.operation.path.startswith(p))
        parameters["id"] = seeded["ids"][prefix]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded['token']}"}, checks=[not_a_server_error]
    )
