from django.apps import AppConfig


class SignaturesConfig(AppConfig):
    """Signed images (#23): trusted keys, signature verification, content trust at the gate."""

    name = "signatures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from harbor_py.core.events import subscribe
        from registry import pull_policy
        from registry.events import ArtifactDeleted
        from signatures import policy, tasks
        from signatures.events import TrustedKeysChanged

        pull_policy.register("content_trust", policy.check)
        # A deleted signature (or subject) may turn an allowed pull into a refusal.
        subscribe(
            ArtifactDeleted,
            policy.on_artifact_deleted,
            name="signatures.forget_verdicts",
            coalesce=lambda event: event.project,  # one bump per project and commit
        )
        # New keys: the signatures are verified again in the background.
        subscribe(TrustedKeysChanged, tasks.on_keys_changed, name="signatures.recheck")
