"""The public page an expert opens from the consultation e-mail (no login); included in
config/urls.py under "consult/" (namespace "consult")."""

from django.urls import path

from inbox import consult_views

app_name = "consult"

urlpatterns = [
    path("<str:token>/", consult_views.answer, name="answer"),
]
