"""The /__admin/ pages of the fake Instagram (not part of Graph): a page to look at and
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
    from channels_integrations.instagram.fake import FakeInstagram


class InstagramAdmin:
    def __init__(self, fake: FakeInstagram) -> None:
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
            if isinstance(payload.get("media"), str):
                return json_response(self.fake.add_media(payload["media"]), 201)
            media_id = str(payload.get("media_id") or "") or self._newest_media_id()
            if "raw" in payload:
                return json_response(self.fake.add_raw_comment(media_id, payload["raw"]), 201)
            text = payload.get("text")
            if not isinstance(text, str) or not text.strip():
                return json_response({"error": "text (or media, or raw) is required"}, 400)
            if payload.get("as_account"):
                target = str(payload.get("parent_id") or media_id)
                return json_response(self.fake.add_own_comment(target, text), 201)
            comment = self.fake.add_comment(
                media_id,
                text,
                username=str(payload.get("username") or "jane.doe"),
                parent_id=str(payload["parent_id"]) if payload.get("parent_id") else None,
                hidden=bool(payload.get("hidden")),
                filtered=bool(payload.get("filtered")),
            )
        except KeyError as error:
            return json_response({"error": f"unknown id {error}"}, 404)
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        return json_response(comment, 201)

    def _newest_media_id(self) -> str:
        media = self.fake.media()
        return (
            media[0]["id"] if media else self.fake.add_media("Hello from the fake account!")["id"]
        )

    def comment_form(self, request: Request) -> Response:
        form = request.form
        text = form.get("text", "").strip()
        try:
            caption = form.get("caption", "").strip()
            if caption:
                self.fake.add_media(caption)
            if text:
                chosen = form.get("media_id", "")
                media_id = chosen if chosen.isdigit() else self._newest_media_id()
                self.fake.add_comment(
                    media_id,
                    text,
                    username=form.get("username", "").strip() or "jane.doe",
                    parent_id=form.get("parent_id", "").strip() or None,
                )
        except (KeyError, ValueError) as error:
            return Response(f"refused: {error}", 400, content_type="text/plain; charset=utf-8")
        return Response("", 303, {"Location": request.script_root + "/__admin/"})

    def page(self, request: Request) -> Response:
        media = self.fake.media()
        comments = self.fake.comments()
        form = AdminForm(
            "Create a comment (or a post)",
            action="comment",
            submit="Add",
            fields=(
                AdminField("text", "Comment", rows=3),
                AdminField("username", "Username", placeholder="jane.doe"),
                AdminField(
                    "media_id", "On media", options=("newest media", *(m["id"] for m in media[:20]))
                ),
                AdminField("parent_id", "Reply to", placeholder="top-level comment id (optional)"),
                AdminField("caption", "New post", rows=2),
            ),
        )
        return admin_page(
            f"Fake Instagram: @{self.fake.username} ({self.fake.account_id})",
            notes=[
                f"API base URL: {request.root_url.rstrip('/')} (any /vNN.N/ version)",
                f"API calls recorded: {len(self.fake.calls())}",
                f"faults queued: {self.fake.queued_faults()}",
            ],
            form=form,
            tables=[
                AdminTable(
                    "Media",
                    ("Id", "Time", "Comments", "Caption"),
                    [
                        (m["id"], m["timestamp"], m["comments_count"], m["caption"])
                        for m in media[:20]
                    ],
                ),
                AdminTable(
                    "Comments (newest first)",
                    ("Id", "Time", "Media", "Reply to", "Username", "Hidden", "Text"),
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
        return [repr(comment)[:60], "", "", "", "", "", ""]
    media = comment.get("media")
    return [
        comment.get("id"),
        comment.get("timestamp"),
        media.get("id", "") if isinstance(media, dict) else "",
        comment.get("parent_id", ""),
        comment.get("username", "?"),
        "yes" if comment.get("hidden") else "",
        comment.get("text", ""),
    ]
