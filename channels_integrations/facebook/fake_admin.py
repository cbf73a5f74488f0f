"""The /__admin/ pages of the fake Facebook (not part of Graph): a page to look at and
add to the fake by hand, and `POST /__admin/seed` for scripts. No auth; the views use the fake's
public methods, which take its lock themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from channels_integrations.fake_server import (
    AdminField,
    AdminForm,
    AdminTable,
    Route,
    admin_page,
    json_response,
)

if TYPE_CHECKING:
    from channels_integrations.facebook.fake import FakeFacebook


class FacebookAdmin:
    def __init__(self, fake: FakeFacebook) -> None:
        self.fake = fake

    def routes(self) -> list[Route]:
        return [
            ("GET", "/__admin/", self.page),
            ("POST", "/__admin/comment", self.comment_form),
            ("POST", "/__admin/seed", self.seed),
            ("GET", "/__admin/state", lambda _: json_response(self.fake.state())),
        ]

    def seed(self, request: Request) -> Response:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        try:
            if isinstance(payload.get("post"), str):
                return json_response(self.fake.add_post(payload["post"]), 201)
            post_id = str(payload.get("post_id") or "") or self._newest_post_id()
            if isinstance(payload.get("raw"), dict):
                return json_response(self.fake.add_raw_comment(post_id, payload["raw"]), 201)
            text = payload.get("text")
            if not isinstance(text, str) or not text.strip():
                return json_response({"error": "text (or post, or raw) is required"}, 400)
            if payload.get("as_page"):
                target = str(payload.get("parent_id") or post_id)
                return json_response(self.fake.add_page_comment(target, text), 201)
            comment = self.fake.add_comment(
                post_id,
                text,
                author_name=str(payload.get("author_name") or "Jane Doe"),
                author_id=str(payload["author_id"]) if payload.get("author_id") else None,
                parent_id=str(payload["parent_id"]) if payload.get("parent_id") else None,
                hidden=bool(payload.get("hidden")),
                filtered=bool(payload.get("filtered")),
            )
        except KeyError as error:
            return json_response({"error": f"unknown id {error}"}, 404)
        return json_response(comment, 201)

    def _newest_post_id(self) -> str:
        posts = self.fake.posts()
        return posts[0]["id"] if posts else self.fake.add_post("Hello from the fake Page!")["id"]

    def comment_form(self, request: Request) -> Response:
        form = request.form
        text = form.get("text", "").strip()
        back = Response("", 303, {"Location": request.script_root + "/__admin/"})
        try:
            post_text = form.get("post_text", "").strip()
            if post_text:
                self.fake.add_post(post_text)
            if text:
                chosen = form.get("post_id", "")
                post_id = chosen if chosen.startswith(self.fake.page.id) else self._newest_post_id()
                self.fake.add_comment(
                    post_id,
                    text,
                    author_name=form.get("author_name", "").strip() or "Jane Doe",
                    parent_id=form.get("parent_id", "").strip() or None,
                )
        except KeyError as error:
            return Response(f"unknown id {error}", 404, content_type="text/plain; charset=utf-8")
        return back

    def page(self, request: Request) -> Response:
        posts = self.fake.posts()
        comments = self.fake.comments()
        form = AdminForm(
            "Create a comment (or a post)",
            action="comment",
            submit="Add",
            fields=(
                AdminField("text", "Comment", rows=3),
                AdminField("author_name", "Author", placeholder="Jane Doe"),
                AdminField(
                    "post_id", "On post", options=("newest post", *(p["id"] for p in posts[:20]))
                ),
                AdminField("parent_id", "Reply to", placeholder="comment id (optional)"),
                AdminField("post_text", "New post", rows=2),
            ),
        )
        return admin_page(
            f"Fake Facebook Page: {self.fake.page.name} ({self.fake.page.id})",
            notes=[
                f"API base URL: {request.root_url.rstrip('/')} (any /vNN.N/ version)",
                f"API calls recorded: {len(self.fake.calls())}",
                f"faults queued: {self.fake.queued_faults()}",
            ],
            form=form,
            tables=[
                AdminTable(
                    "Posts",
                    ("Id", "Time", "Text"),
                    [(p["id"], p["created_time"], p["message"]) for p in posts[:20]],
                ),
                AdminTable(
                    "Comments (newest first)",
                    ("Id", "Time", "Post", "Reply to", "Author", "Hidden", "Likes", "Text"),
                    [_comment_row(c) for c in reversed(comments[-50:])],
                ),
                AdminTable(
                    "What the connector did",
                    ("Time", "Action", "Target", "Text", "Result"),
                    [
                        (a["at"], a["action"], a["target"], a["text"], a["result"])
                        for a in reversed(self.fake.actions()[-50:])
                    ],
                ),
            ],
        )


def _comment_row(comment: Any) -> list[object]:
    # Injected comments may be anything: any field may be missing or odd.
    if not isinstance(comment, dict):
        return [repr(comment)[:60], "", "", "", "", "", "", ""]
    author, parent = comment.get("from"), comment.get("parent")
    author = author if isinstance(author, dict) else {}
    parent = parent if isinstance(parent, dict) else {}
    post_id = str(comment.get("id", "")).split("_")[0]
    return [
        comment.get("id"),
        comment.get("created_time"),
        post_id,
        parent.get("id", ""),
        author.get("name", "?"),
        "yes" if comment.get("is_hidden") else "",
        comment.get("like_count", ""),
        comment.get("message", ""),
    ]
