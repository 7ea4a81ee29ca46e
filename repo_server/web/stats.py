"""The statistics dashboard (/admin/stats, editors and admins) and /api/v1/stats (the same
numbers as JSON). The numbers come from services.statistics; the charts are inline SVG
drawn by web/charts.py, each followed by its numbers as a table."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from repo_server.errors import InvalidInput
from repo_server.services.statistics import PERIODS, statistics

from .api import bp as api_bp
from .auth import current_actor
from .charts import bar_chart, line_chart
from .labels import FORMAT_LABELS

__all__ = ["bp", "stats_page", "stats_json"]

bp = Blueprint("stats", __name__)
CHART_ROWS = 15


def _svc():
    return current_app.extensions["repo"]


def _days() -> int:
    raw = request.args.get("days", "30")
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"days must be one of {', '.join(map(str, PERIODS))}", field="days",
                           reason="period") from None


def _org_label(row: dict) -> str:
    if row["kind"] == "visitor":
        return _("访客（未登录）")
    if row["kind"] == "none":
        return _("无所属单位")
    return row["name"]


def _charts(stats: dict) -> dict:
    """The page's four charts, titled in the visitor's language."""
    days = stats["days"]
    per_day = [(d["day"][5:] if days <= 90 else d["day"], d["downloads"]) for d in stats["per_day"]]
    subjects = [(s["name"] or _("未分类"), s["downloads"]) for s in stats["per_subject"]]
    orgs = [(_org_label(o), o["downloads"]) for o in stats["per_organisation"]]
    top = [(r["title"], r["downloads"]) for r in stats["top_resources"]]
    months = [(m["month"], m["uploads"]) for m in stats["library"]["uploads_per_month"]]
    total = stats["downloads"]
    return {
        "per_day": line_chart(per_day, chart_id="chart-per-day",
                              title=_("每日下载量（最近 %(days)s 天）", days=days),
                              description=_("共 %(total)s 次下载，不含爬虫和脚本。", total=total)),
        "per_subject": bar_chart(subjects[:CHART_ROWS], chart_id="chart-per-subject",
                                 title=_("按学科的下载量"), empty=_("没有下载"),
                                 description=_("共 %(total)s 次下载，不含爬虫和脚本。", total=total)),
        "per_organisation": bar_chart(orgs[:CHART_ROWS], chart_id="chart-per-org",
                                      title=_("按单位的下载量"), empty=_("没有下载"),
                                      description=_("下载者所在单位，前 %(n)s 名。", n=CHART_ROWS)),
        "top": bar_chart(top, chart_id="chart-top", title=_("下载最多的资源"), label_width=220,
                         empty=_("没有下载")),
        "uploads": line_chart(months, chart_id="chart-uploads", title=_("每月新增资源"),
                              description=_("最近 12 个月"), height=200),
    }


@bp.get("/admin/stats")
@login_required
def stats_page():
    stats = statistics(_svc(), current_actor(), _days())
    formats = [(str(FORMAT_LABELS.get(f["format"], f["format"] or _("未知"))), f["count"])
               for f in stats["library"]["by_format"]]
    return render_template("stats.html", stats=stats, charts=_charts(stats), periods=PERIODS,
                           org_label=_org_label, formats=formats)


@api_bp.get("/stats")
def stats_json():
    """The dashboard's numbers (editors: their subtree; admins: the district)."""
    return jsonify(statistics(_svc(), current_actor(), _days()))
