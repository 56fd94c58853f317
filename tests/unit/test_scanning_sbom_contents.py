"""scanning.reports.sbom_contents: what the SBOM card shows of a HarborSbomReport."""

from scanning import adapter
from scanning.reports import sbom_contents


def test_cyclonedx_and_spdx_summaries():
    cyclonedx = {
        "media_type": adapter.CYCLONEDX,
        "sbom": {
            "specVersion": "1.5",
            "metadata": {"timestamp": "2026-12-01T00:00:00Z"},
            "components": [{"name": "a"}, {"name": "b"}],
        },
    }
    assert sbom_contents(cyclonedx) == {
        "format": "CycloneDX",
        "version": "CycloneDX 1.5",
        "media_type": adapter.CYCLONEDX,
        "components": 2,
        "created": "2026-12-01T00:00:00Z",
    }
    spdx = {"media_type": adapter.SPDX, "sbom": {"spdxVersion": "SPDX-2.3"}}
    assert sbom_contents(spdx)["components"] == 0
    assert sbom_contents(spdx)["version"] == "SPDX-2.3"


def test_a_report_without_an_sbom_has_no_contents():
    assert sbom_contents(None) is None
    assert sbom_contents({"media_type": "text/plain", "sbom": {}}) is None
    assert sbom_contents({"media_type": adapter.SPDX, "sbom": "not an object"}) is None
