from django.urls import path

from accounts.api import group_views, ldap_views, oidc_views, robot_views, user_views, views

urlpatterns = [
    path("users", views.UserListView.as_view()),
    path("users/current", user_views.CurrentUserView.as_view()),
    path("users/current/permissions", user_views.CurrentUserPermissionsView.as_view()),
    path("users/search", user_views.UserSearchView.as_view()),
    path("users/<int:user_id>", user_views.UserDetailView.as_view()),
    path("users/<int:user_id>/sysadmin", user_views.UserSysAdminView.as_view()),
    path("users/<int:user_id>/password", user_views.UserPasswordView.as_view()),
    path("usergroups", group_views.UserGroupListView.as_view()),
    path("usergroups/search", group_views.UserGroupSearchView.as_view()),
    path("usergroups/<int:group_id>", group_views.UserGroupDetailView.as_view()),
    path("robots", robot_views.RobotListView.as_view()),
    path("robots/<int:robot_id>", robot_views.RobotDetailView.as_view()),
    path("ldap/ping", ldap_views.LdapPingView.as_view()),
    path("ldap/users/search", ldap_views.LdapUserSearchView.as_view()),
    path("ldap/users/import", ldap_views.LdapUserImportView.as_view()),
    path("ldap/groups/search", ldap_views.LdapGroupSearchView.as_view()),
    path("system/oidc/ping", oidc_views.OidcPingView.as_view()),
    path("users/<int:user_id>/cli_secret", oidc_views.CliSecretView.as_view()),
]
