"""Static HTML report of a catalog: people, contact sheets, photos with boxes, methods.

``write_report(catalog, out_dir)`` writes a folder that opens from disk with no server
and no network (see :mod:`faceatlas.report._build` for its layout).
"""

from __future__ import annotations

from faceatlas.report._build import ReportSummary, write_report

__all__ = ["ReportSummary", "write_report"]
