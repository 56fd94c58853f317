from django.urls import path

from immutable.api import views

RULES = "projects/<str:project_name_or_id>/immutabletagrules"

urlpatterns = [
    path(RULES, views.ImmutableRuleListView.as_view()),
    path(f"{RULES}/<int:immutable_rule_id>", views.ImmutableRuleDetailView.as_view()),
]
