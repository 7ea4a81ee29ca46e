"""OAI-PMH 2.0 provider at /oai (GET and POST): parse the verb and its arguments, call the
harvesting service (services/oai), render the answer (oai_xml). Harvesters are anonymous:
only public, published resources are live records (see services/oai). When
REPO_PUBLIC_ACCESS is off the site shows nothing to anonymous visitors, and /oai is 404.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, abort, current_app, request, url_for

from repo_server.services import oai

from . import oai_xml

__all__ = ["bp"]

bp = Blueprint("oai", __name__)
_ARGS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
}


def _svc():
    return current_app.extensions["repo"]


def _namespace() -> str:
    return _svc().settings.oai_identifier_host or request.host.split(":")[0]


def _resource_id(identifier: str) -> str:
    prefix = f"oai:{_namespace()}:"
    if not identifier.startswith(prefix):
        raise oai.OaiError("idDoesNotExist", f"identifiers here look like {prefix}<id>")
    return identifier[len(prefix):]


def _check(verb: str | None, args: dict[str, str]) -> None:
    if verb not in _ARGS:
        raise oai.OaiError("badVerb", "missing or unknown verb")
    required, optional = _ARGS[verb]
    extra = set(args) - required - optional
    if "resumptionToken" in args:
        if set(args) != {"resumptionToken"}:
            raise oai.OaiError("badArgument", "resumptionToken is an exclusive argument")
        return
    if extra:
        raise oai.OaiError("badArgument", f"illegal argument {sorted(extra)[0]}")
    missing = required - set(args)
    if missing:
        raise oai.OaiError("badArgument", f"missing argument {sorted(missing)[0]}")


def _list_query(verb: str, args: dict[str, str]) -> oai.Query:
    if "resumptionToken" in args:
        return oai.decode_token(_svc(), args["resumptionToken"], verb)
    if args["metadataPrefix"] not in oai_xml.FORMATS:
        raise oai.OaiError("cannotDisseminateFormat", f"no metadata format {args['metadataPrefix']!r}")
    start = end = None
    grains = set()
    if "from" in args:
        start, grain = oai.parse_date(args["from"])
        grains.add(grain)
    if "until" in args:
        until, grain = oai.parse_date(args["until"])
        grains.add(grain)
        end = until + grain
    if len(grains) > 1:
        raise oai.OaiError("badArgument", "from and until must have the same granularity")
    if start is not None and end is not None and start >= end:
        raise oai.OaiError("badArgument", "from is later than until")
    return oai.Query(verb, args["metadataPrefix"], start, end, args.get("set"))


@bp.route("/oai", methods=["GET", "POST"])
def endpoint():
    svc = _svc()
    if not svc.settings.public_access:
        abort(404)
    source = request.form if request.method == "POST" else request.args
    verb = source.get("verb")
    args = {k: source.get(k) for k in source if k != "verb"}
    base = url_for("oai.endpoint", _external=True)
    now = datetime.now(timezone.utc)
    doc = oai_xml.Document(base, now, verb if verb in _ARGS else None, args, _namespace())
    try:
        if any(len(source.getlist(k)) > 1 for k in source):
            raise oai.OaiError("badArgument", "an argument is repeated")
        _check(verb, args)
        if verb == "Identify":
            doc.identify(svc.settings.oai_repository_name, svc.settings.oai_admin_email,
                         oai.earliest_datestamp(svc))
        elif verb == "ListMetadataFormats":
            if "identifier" in args:
                oai.get_record(svc, _resource_id(args["identifier"]))
            doc.metadata_formats()
        elif verb == "ListSets":
            if "resumptionToken" in args:
                raise oai.OaiError("badResumptionToken", "ListSets answers in one page")
            doc.sets(oai.list_sets(svc))
        elif verb == "GetRecord":
            if args["metadataPrefix"] not in oai_xml.FORMATS:
                raise oai.OaiError("cannotDisseminateFormat", f"no metadata format {args['metadataPrefix']!r}")
            doc.get_record(oai.get_record(svc, _resource_id(args["identifier"])), args["metadataPrefix"])
        else:
            query = _list_query(verb, args)
            records, nxt = oai.harvest(svc, query, page_size=svc.settings.oai_page_size)
            token = oai.encode_token(svc, nxt) if nxt else ""
            doc.list(verb, records, query, token, nxt.total if nxt else query.total)
    except oai.OaiError as exc:
        doc.error(exc.code, exc.message)
    return Response(doc.to_bytes(), content_type="text/xml; charset=utf-8")
