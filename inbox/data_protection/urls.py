from django.urls import URLPattern, URLResolver

app_name = "data_protection"

urlpatterns: list[URLPattern | URLResolver] = []
