"""Every catalog table in one import, for Alembic and for callers that need several."""

from .base import Base
from .events import CHANGE_OPS, Change, ChangeCounter, DownloadEvent, ImportRecord
from .favourites import Favourite
from .media import JOB_KINDS, JOB_STATES, DerivativePage, MediaJob
from .mirrors import SYNC_RESULTS, MirrorReport
from .people import ORG_KINDS, ROLES, ApiToken, Organisation, User
from .resources import (CLASSIFICATION_SCHEMES, DERIVATIVE_STATES, STATUSES, TEXT_STATES, VISIBILITIES,
                        Blob, BlobText, Derivative, Resource, ResourceTag)
from .terms import SCHEMES, VocabAlias, VocabTerm, term_key

__all__ = [
    "Base", "MediaJob", "DerivativePage", "JOB_KINDS", "JOB_STATES",
    "Change", "ChangeCounter", "Favourite", "DownloadEvent", "ImportRecord", "ApiToken",
    "Organisation", "User", "Blob", "BlobText", "Derivative", "TEXT_STATES", "Resource", "ResourceTag", "VocabAlias",
    "VocabTerm", "CHANGE_OPS", "ORG_KINDS", "ROLES", "CLASSIFICATION_SCHEMES",
    "DERIVATIVE_STATES", "STATUSES", "VISIBILITIES", "SCHEMES", "term_key", "MirrorReport", "SYNC_RESULTS",
]
