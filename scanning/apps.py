from django.apps import AppConfig


class ScanningConfig(AppConfig):
    """Vulnerability scanning and SBOMs through Harbor's pluggable scanner API: scanner
    registrations, scans as jobs, reports, CVE allowlists, scan on push and the
    `prevent_vul` pull policy."""

    name = "scanning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from harbor_py.core.events import subscribe
        from jobs.registry import JobType, declare
        from projects import allowlist_hook
        from registry import artifact_extras, pull_policy
        from registry.events import ArtifactPushed
        from scanning import allowlists, exports, policy, scans, selectors

        # a vulnerability scan writes no registry data (read-only mode lets it run); an
        # SBOM is pushed as an accessory
        for vendor_type, writes in ((scans.IMAGE_SCAN, False), (scans.SBOM_JOB, True)):
            declare(
                JobType(
                    vendor_type,
                    scans.run_scan,
                    audit_name="scan",
                    writes_registry=writes,
                    stopped_between_runs=scans.stop_reports,
                )
            )
        declare(
            JobType(
                scans.SCAN_ALL, scans.run_scan_all, audit_name="scan_all", writes_registry=False
            )
        )
        declare(
            JobType(
                exports.EXPORT_JOB,
                exports.run_export,
                audit_name="scan_data_export",
                writes_registry=False,
                single_active=False,
            )
        )
        pull_policy.register("prevent_vul", policy.check)
        subscribe(
            ArtifactPushed,
            scans.on_artifact_pushed,
            name="scanning.scan_on_push",
            durable=True,
            wants=scans.wants_push,
        )
        allowlist_hook.register(read=allowlists.read, write=allowlists.write)
        artifact_extras.register("scan_overview", selectors.scan_overviews)
        artifact_extras.register("sbom_overview", selectors.sbom_overviews)
        artifact_extras.register_link("vulnerabilities", scans.scannable)
