from django.urls import URLPattern, URLResolver, path

from inbox.reports import views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.report, name="report"),
]
