from django.urls import path, re_path

from registry import v2_views

NAME = r"(?P<name>[^?#]+?)"  # validated in the views, so that bad names get NAME_INVALID

urlpatterns = [
    path("v2/", v2_views.base),
    path("v2/_catalog", v2_views.catalog),
    re_path(rf"^v2/{NAME}/tags/list$", v2_views.tags_list),
    re_path(rf"^v2/{NAME}/manifests/(?P<reference>[^/]+)$", v2_views.manifest),
    re_path(rf"^v2/{NAME}/referrers/(?P<digest>[^/]+)$", v2_views.referrers),
    re_path(rf"^v2/{NAME}/blobs/uploads/(?P<rest>.*)$", v2_views.blob_upload),
    re_path(rf"^v2/{NAME}/blobs/(?P<digest>[^/]+)$", v2_views.blob_head),
]
