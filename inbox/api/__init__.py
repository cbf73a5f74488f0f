"""The REST API (Django REST framework): personal tokens that act as their user."""
