from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    """Registry endpoints, replication policies and their runs (ARCHITECTURE.md §6)."""

    name = "replication"

    def ready(self) -> None:
        from jobs.registry import JobType, declare
        from replication import runs, triggers
        from replication.adapters import base
        from replication.adapters.docker_registry import DockerRegistryAdapter
        from replication.adapters.harbor import HarborAdapter
        from replication.services import VENDOR

        # executions of different policies run at once; of one policy, as the policy says
        declare(
            JobType(
                VENDOR,
                runs.run,
                audit_name="replication",
                writes_registry=True,
                single_active=False,
                schedule_task="replication.tasks.run_scheduled_policy",
            )
        )
        triggers.subscribe_all()
        # the filters whose values the listings of each kind of registry carry
        base.register(
            base.AdapterType("harbor", HarborAdapter, ("name", "tag", "label", "resource"))
        )
        base.register(base.AdapterType("docker-registry", DockerRegistryAdapter, ("name", "tag")))
        from replication.adapters.docker_hub import DockerHubAdapter

        base.register(base.AdapterType("docker-hub", DockerHubAdapter, ("name", "tag")))
