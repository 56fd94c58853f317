from django.urls import path

from jobs.api import jobservice

urlpatterns = [
    path("jobservice/pools", jobservice.PoolsView.as_view()),
    path("jobservice/pools/<str:pool_id>/workers", jobservice.WorkersView.as_view()),
    path("jobservice/jobs/<str:job_id>", jobservice.JobView.as_view()),
    path("jobservice/jobs/<str:job_id>/log", jobservice.JobLogView.as_view()),
    path("jobservice/queues", jobservice.QueuesView.as_view()),
    path("jobservice/queues/<str:job_type>", jobservice.QueueView.as_view()),
    path("schedules", jobservice.SchedulesView.as_view()),
    path("schedules/<str:job_type>/paused", jobservice.SchedulePausedView.as_view()),
]
