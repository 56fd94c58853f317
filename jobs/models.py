from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    PENDING = "Pending"
    RUNNING = "Running"
    STOPPED = "Stopped"
    ERROR = "Error"
    SUCCESS = "Success"
    SKIPPED = "Skipped"  # never ran: another execution of the same vendor id was active


FINAL = {Status.STOPPED, Status.ERROR, Status.SUCCESS, Status.SKIPPED}


class Trigger(models.TextChoices):
    MANUAL = "MANUAL"
    SCHEDULE = "SCHEDULE"
    EVENT = "EVENT"


class Execution(models.Model):
    """One run of a job of some vendor (GARBAGE_COLLECTION, PURGE_AUDIT_LOG, REPLICATION...)."""

    vendor_type = models.CharField(max_length=64)
    vendor_id = models.BigIntegerField(default=0)  # e.g. a replication policy id; 0 for system jobs
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_message = models.TextField(blank=True, default="")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    parameters = models.JSONField(default=dict, blank=True)
    extra_attrs = models.JSONField(default=dict, blank=True)  # results: counts, freed bytes
    stop_requested = models.BooleanField(default=False)
    # from the job type's declaration (jobs.registry), for the constraint below
    single_active = models.BooleanField(default=True)
    start_time = models.DateTimeField(auto_now_add=True)
    end_time = models.DateTimeField(null=True, blank=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "execution"
        indexes = [models.Index(fields=["vendor_type", "-start_time"])]
        constraints = [
            # One unfinished execution per vendor type and vendor id (e.g. one GC at a time)
            # for the job types declared single_active (jobs.registry); replication decides
            # per policy (single_active_replication), as Harbor does.
            models.UniqueConstraint(
                fields=["vendor_type", "vendor_id"],
                condition=models.Q(status__in=["Pending", "Running"], single_active=True),
                name="execution_one_active",
            )
        ]


class Task(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="tasks")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_message = models.TextField(blank=True, default="")
    run_count = models.IntegerField(default=0)
    extra_attrs = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, default="")
    # The log's lines as records, one JSON object a line ({"time", "event", "params"}):
    # what a surface words in its own language (the UI); `log` stays the API's English.
    records = models.TextField(blank=True, default="")
    # The lease of a running task (jobs/lease.py): who runs it and when it last said so.
    worker = models.CharField(max_length=255, blank=True, default="")
    heartbeat = models.DateTimeField(null=True, blank=True)
    creation_time = models.DateTimeField(auto_now_add=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "task"


class Schedule(models.Model):
    """The schedule of a system job (GC, audit purge), backed by a django-celery-beat task."""

    vendor_type = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=16, default="None")  # Hourly Daily Weekly Custom None
    cron = models.CharField(max_length=64, blank=True, default="")
    parameters = models.JSONField(default=dict, blank=True)
    # related_name="+": the default reverse name, `schedule`, would hide beat's own
    # PeriodicTask.schedule property and crash celery beat.
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "schedule"
