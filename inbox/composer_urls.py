from django.urls import path

from inbox import composer_views

urlpatterns = [
    path("c/<int:pk>/reply/", composer_views.reply, name="reply"),
    path("c/<int:pk>/notes/", composer_views.note, name="note"),
    path("c/<int:pk>/saved-replies/", composer_views.saved_reply_search, name="saved_reply_search"),
    path("saved-replies/", composer_views.saved_reply_list, name="saved_replies"),
    path("saved-replies/new/", composer_views.saved_reply_edit, name="saved_reply_create"),
    path("saved-replies/<int:pk>/", composer_views.saved_reply_edit, name="saved_reply_edit"),
    path(
        "saved-replies/<int:pk>/delete/",
        composer_views.saved_reply_delete,
        name="saved_reply_delete",
    ),
    path("signatures/", composer_views.signatures, name="signatures"),
]
