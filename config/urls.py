from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from config.health import healthz
from config.login import throttled

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox:list", permanent=False)),
    path("accounts/login/", throttled(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("inbox/", include("inbox.urls")),
    path("channels/", include("channels_integrations.urls")),
    path("team/webhooks/", include("inbox.webhooks.urls")),
    path("team/", include("inbox.administration_urls")),
    path("reports/", include("inbox.reports.urls")),
    path("privacy/", include("inbox.data_protection.urls")),
    path("api/", include("inbox.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("moderation/", include("moderation.urls")),
    # The expert's page of a consultation: no login, the link's token is the key.
    path("consult/", include("inbox.consult_urls")),
    # Before admin.site.urls: the admin's sign-in is throttled like ours (config/login.py).
    path("admin/login/", throttled(admin.site.login), name="admin_login"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
