from django.urls import path, re_path

from registry import v2_views

NAME = r"(?P<name>[^?#]+?)"  # validated in the views, so that bad names get NAME_INVALID

# The blob HEAD first, then the manifest: three of a push's five requests, and one. Django
# tries the patterns in order, and each pattern with NAME that fails scans the whole path
# (a blob HEAD went through four, about a third of the time Django took to route it). Only
# `blobs/uploads/` (any rest) can match a path that another pattern matches too; it stays
# after tags, manifests and referrers, so those keep such paths, and a blob of a repository
# whose name holds `blobs/uploads` goes to the blob view (tests/unit/test_registry_urls.py).
urlpatterns = [
    re_path(rf"^v2/{NAME}/blobs/(?P<digest>[^/]+)$", v2_views.blob_head),
    re_path(rf"^v2/{NAME}/manifests/(?P<reference>[^/]+)$", v2_views.manifest),
    re_path(rf"^v2/{NAME}/tags/list$", v2_views.tags_list),
    re_path(rf"^v2/{NAME}/referrers/(?P<digest>[^/]+)$", v2_views.referrers),
    re_path(rf"^v2/{NAME}/blobs/uploads/(?P<rest>.*)$", v2_views.blob_upload),
    path("v2/_catalog", v2_views.catalog),
    path("v2/", v2_views.base),
]
