from django.urls import path

from quotas.api import views

urlpatterns = [
    path("quotas", views.QuotaListView.as_view()),
    path("quotas/<int:quota_id>", views.QuotaDetailView.as_view()),
]
