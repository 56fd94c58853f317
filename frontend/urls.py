from django.urls import include, path

from frontend.views import (
    account,
    admin,
    artifacts,
    dashboard,
    jobs,
    oidc,
    portal,
    project_settings,
    projects,
    robots,
    scanning,
    signatures,
    webhooks,
)
from frontend.views import jobservice as jobservice_views
from frontend.views import retention as retention_views

app_name = "ui"

ARTIFACT = "projects/<str:name>/repositories/<path:path>/-/artifacts/<str:reference>"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("account/sign-in", account.sign_in, name="sign-in"),
    path("account/sign-out", account.sign_out, name="sign-out"),
    path("account/password", account.change_password, name="password"),
    path("account/columns/<str:table>", account.columns, name="columns"),
    path("account/cli-secret", oidc.regenerate_cli_secret, name="cli-secret"),
    path("c/oidc/login", oidc.oidc_login, name="oidc-login"),
    path("c/oidc/callback", oidc.oidc_callback, name="oidc-callback"),
    path("c/oidc/onboard", oidc.oidc_onboard, name="oidc-onboard"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("search", portal.search, name="search"),
    path("admin/quotas", portal.quotas, name="quotas"),
    path("admin/labels", portal.global_labels, name="global-labels"),
    path(
        "admin/labels/<int:label_id>/delete", portal.global_label_delete, name="global-label-delete"
    ),
    path("admin/users", admin.users, name="users"),
    path("admin/users/<int:user_id>/sysadmin", admin.user_sysadmin, name="user-sysadmin"),
    path("admin/users/<int:user_id>/password", admin.user_password, name="user-password"),
    path("admin/users/<int:user_id>/delete", admin.user_delete, name="user-delete"),
    path("admin/groups", admin.groups, name="groups"),
    path("admin/groups/<int:group_id>/delete", admin.group_delete, name="group-delete"),
    path("admin/configuration", admin.system_configuration, name="configuration"),
    path("account/robot-secret", robots.secret_shown, name="robot-secret-once"),
    path("admin/robots", robots.system_robots, name="robots"),
    path(
        "admin/robots/<int:robot_id>/toggle",
        robots.system_robot_toggle,
        name="robot-toggle",
    ),
    path("admin/robots/<int:robot_id>/edit", robots.system_robot_edit, name="robot-edit"),
    path(
        "admin/robots/<int:robot_id>/secret",
        robots.system_robot_secret,
        name="robot-secret",
    ),
    path(
        "admin/robots/<int:robot_id>/delete",
        robots.system_robot_delete,
        name="robot-delete",
    ),
    path("admin/audit", admin.audit_log, name="audit"),
    path("admin/gc", jobs.gc, name="gc"),
    path("admin/scanners", scanning.scanners, name="scanners"),
    path("admin/security", scanning.security_hub, name="security-hub"),
    path(
        "admin/security/exports/<int:execution_id>/csv",
        scanning.export_download,
        name="cve-export-download",
    ),
    path("admin/gc/<int:execution_id>", jobs.gc_execution, name="gc-execution"),
    path("admin/jobs/<int:execution_id>/stop", jobs.stop_execution, name="job-stop"),
    path("admin/registries", jobs.registries, name="registries"),
    path("admin/registries/<int:registry_id>/edit", jobs.registry_edit, name="registry-edit"),
    path("admin/registries/<int:registry_id>/delete", jobs.registry_delete, name="registry-delete"),
    path("admin/replications", jobs.replications, name="replications"),
    path("admin/replications/<int:policy_id>/run", jobs.replication_run, name="replication-run"),
    path("admin/replications/<int:policy_id>/edit", jobs.replication_edit, name="replication-edit"),
    path(
        "admin/replications/<int:policy_id>/delete",
        jobs.replication_delete,
        name="replication-delete",
    ),
    path(
        "admin/replications/executions/<int:execution_id>",
        jobs.replication_execution,
        name="replication-execution",
    ),
    path(
        "admin/replications/executions/<int:execution_id>/tasks/<int:task_id>/log",
        jobs.replication_task_log,
        name="replication-task-log",
    ),
    path("projects/", projects.project_list, name="projects"),
    path("projects/new", projects.project_create, name="project-create"),
    path("projects/<str:name>/", projects.project_detail, name="project"),
    path("projects/<str:name>/repositories", projects.repositories, name="project-repositories"),
    path("projects/<str:name>/members", projects.members, name="project-members"),
    path(
        "projects/<str:name>/members/<int:member_id>/role",
        projects.member_role,
        name="member-role",
    ),
    path(
        "projects/<str:name>/members/<int:member_id>/delete",
        projects.member_delete,
        name="member-delete",
    ),
    path("projects/<str:name>/labels", projects.labels, name="project-labels"),
    path(
        "projects/<str:name>/labels/<int:label_id>/delete",
        projects.label_delete,
        name="label-delete",
    ),
    path("projects/<str:name>/logs", projects.logs, name="project-logs"),
    path(
        "projects/<str:name>/configuration",
        project_settings.configuration_tab,
        name="project-configuration",
    ),
    path("projects/<str:name>/quota", project_settings.quota_update, name="project-quota"),
    path("projects/<str:name>/cve-allowlist", scanning.project_allowlist, name="project-allowlist"),
    path("projects/<str:name>/scanner", scanning.project_scanner, name="project-scanner"),
    path("projects/<str:name>/immutability", project_settings.rule_create, name="rule-create"),
    path(
        "projects/<str:name>/immutability/<int:rule_id>",
        project_settings.rule_edit,
        name="rule-edit",
    ),
    path(
        "projects/<str:name>/immutability/<int:rule_id>/toggle",
        project_settings.rule_toggle,
        name="rule-toggle",
    ),
    path(
        "projects/<str:name>/immutability/<int:rule_id>/delete",
        project_settings.rule_delete,
        name="rule-delete",
    ),
    path("projects/<str:name>/delete", project_settings.project_delete, name="project-delete"),
    path(
        "projects/<str:name>/trusted-keys", project_settings.project_key_add, name="project-key-add"
    ),
    path(
        "projects/<str:name>/trusted-keys/<int:key_id>/delete",
        signatures.project_key_delete,
        name="project-key-delete",
    ),
    path("admin/trusted-keys", signatures.system_keys, name="trusted-keys"),
    path(
        "admin/trusted-keys/<int:key_id>/delete",
        signatures.system_key_delete,
        name="trusted-key-delete",
    ),
    path("projects/<str:name>/robots", robots.project_robots, name="project-robots"),
    path(
        "projects/<str:name>/robots/<int:robot_id>/toggle",
        robots.project_robot_toggle,
        name="project-robot-toggle",
    ),
    path(
        "projects/<str:name>/robots/<int:robot_id>/edit",
        robots.project_robot_edit,
        name="project-robot-edit",
    ),
    path(
        "projects/<str:name>/robots/<int:robot_id>/secret",
        robots.project_robot_secret,
        name="project-robot-secret",
    ),
    path(
        "projects/<str:name>/robots/<int:robot_id>/delete",
        robots.project_robot_delete,
        name="project-robot-delete",
    ),
    path(f"{ARTIFACT}/tags", artifacts.tag_add, name="tag-add"),
    path(f"{ARTIFACT}/labels", artifacts.label_add, name="label-add"),
    path(f"{ARTIFACT}/copy", artifacts.artifact_copy, name="artifact-copy"),
    path(f"{ARTIFACT}/labels/<int:label_id>/remove", artifacts.label_remove, name="label-remove"),
    path(f"{ARTIFACT}/tags/<str:tag>/delete", artifacts.tag_delete, name="tag-delete"),
    path(f"{ARTIFACT}/delete", artifacts.artifact_delete, name="artifact-delete"),
    path(f"{ARTIFACT}/scan", scanning.scan, name="artifact-scan"),
    path(f"{ARTIFACT}/scan/stop", scanning.scan_stop, name="artifact-scan-stop"),
    path(f"{ARTIFACT}/sbom.json", scanning.sbom_download, name="artifact-sbom"),
    path(ARTIFACT, artifacts.artifact, name="artifact"),
    path(
        "projects/<str:name>/repositories/<path:path>/-/delete",
        artifacts.repository_delete,
        name="repository-delete",
    ),
    path("projects/<str:name>/repositories/<path:path>/", artifacts.repository, name="repository"),
    # webhooks (#26)
    path("projects/<str:name>/webhooks", webhooks.project_webhooks, name="project-webhooks"),
    path(
        "projects/<str:name>/webhooks/<int:policy_id>/toggle",
        webhooks.webhook_toggle,
        name="webhook-toggle",
    ),
    path(
        "projects/<str:name>/webhooks/<int:policy_id>/test",
        webhooks.webhook_test,
        name="webhook-test",
    ),
    path(
        "projects/<str:name>/webhooks/<int:policy_id>/delete",
        webhooks.webhook_delete,
        name="webhook-delete",
    ),
    path(
        "projects/<str:name>/webhooks/<int:policy_id>/deliveries/<int:execution_id>",
        webhooks.webhook_log,
        name="webhook-log",
    ),
    # tag retention (issue #25)
    path("projects/<str:name>/retention", retention_views.retention_tab, name="project-retention"),
    path(
        "projects/<str:name>/retention/rules",
        retention_views.rule_add,
        name="retention-rule-add",
    ),
    path(
        "projects/<str:name>/retention/rules/<int:index>/edit",
        retention_views.rule_edit,
        name="retention-rule-edit",
    ),
    path(
        "projects/<str:name>/retention/rules/<int:index>/delete",
        retention_views.rule_delete,
        name="retention-rule-delete",
    ),
    path(
        "projects/<str:name>/retention/rules/<int:index>/toggle",
        retention_views.rule_toggle,
        name="retention-rule-toggle",
    ),
    path(
        "projects/<str:name>/retention/settings",
        retention_views.settings_save,
        name="retention-settings",
    ),
    path("projects/<str:name>/retention/run", retention_views.run, name="retention-run"),
    path(
        "projects/<str:name>/retention/runs/<int:execution_id>",
        retention_views.execution,
        name="retention-execution",
    ),
    # the job service dashboard (issue #25)
    path("admin/jobservice", jobservice_views.dashboard, name="jobservice"),
    path("admin/jobservice/workers", jobservice_views.workers, name="jobservice-workers"),
    path(
        "admin/jobservice/queues/<str:job_type>",
        jobservice_views.queue_action,
        name="jobservice-queue",
    ),
    path(
        "admin/jobservice/schedules/<str:job_type>",
        jobservice_views.schedule_action,
        name="jobservice-schedule",
    ),
    path(
        "admin/jobservice/jobs/<int:job_id>/log",
        jobservice_views.job_log,
        name="jobservice-log",
    ),
    path(
        "admin/jobservice/jobs/<int:job_id>/stop",
        jobservice_views.stop_job,
        name="jobservice-stop",
    ),
]
