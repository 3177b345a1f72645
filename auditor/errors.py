"""The exception tree of the auditor, translated once at each boundary.

    AuditorError                      base: every error the product raises on purpose
    ├── ConfigError                   bad flags, bad config file, bad settings
    ├── TargetUnreachable             a cluster or AWS endpoint cannot be reached at all
    ├── CollectionError               one collector failed (carries service, operation, code)
    │   └── PermissionDenied          AccessDenied / UnauthorizedOperation / 403
    ├── SnapshotError                 a snapshot file is unreadable or of another schema
    ├── StoreError                    the database is unreachable or inconsistent
    ├── InstallError                  `auditor install-alb` could not finish a step
    │   └── InstallRefused            a safety check refused to go on (Auto Mode, foreign controller)
    ├── ExportFailed                  findings could not all be sent (Security Hub refused or unreachable)
    ├── NotFound                      an object asked for by id does not exist (API 404)
    ├── Conflict                      the request clashes with current state, e.g. a run already going (API 409)
    └── RunCancelled                  an audit stopped before its next AWS or Kubernetes request (its run lost
                                      its lease): ends the audit, never one collector's coverage

Boundaries: boto3 ``ClientError`` and kubernetes ``ApiException`` become ``CollectionError`` in
the collectors (and then coverage data, never a crash); the API maps ``AuditorError`` subclasses
to HTTP statuses; the CLI maps them to exit codes (see ``EXIT_CODES``). ``RunCancelled`` crosses the
collectors untranslated and ends at the service (``AuditService._execute``), the one caller that cancels.
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error the auditor raises deliberately."""

    exit_code = 8


class ConfigError(AuditorError):
    """A flag, setting or config file is wrong; the message says which and how to fix it."""

    exit_code = 2


class TargetUnreachable(AuditorError):
    """A Kubernetes API server or an AWS endpoint could not be reached."""

    exit_code = 3


class CollectionError(AuditorError):
    """A collector call failed; carries enough to be recorded as coverage."""

    exit_code = 3

    def __init__(self, message: str, *, service: str = "", operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.service = service
        self.operation = operation
        self.code = code


class PermissionDenied(CollectionError):
    """The credentials in use may not call an API (AccessDenied, 403)."""


class SnapshotError(AuditorError):
    """A snapshot file could not be read or was written by an incompatible schema version."""

    exit_code = 2


class StoreError(AuditorError):
    """The database is unreachable, not migrated, or refused a write."""

    exit_code = 4


class InstallError(AuditorError):
    """An install-alb step failed; the message names the step."""

    exit_code = 5


class InstallRefused(InstallError):
    """A safety check stopped the installer (use --force only if you know why)."""

    exit_code = 6


class ExportFailed(AuditorError):
    """Findings could not all be sent to where they were exported (the message says which and why)."""

    exit_code = 9


class NotFound(AuditorError):
    """An object requested by id does not exist."""

    exit_code = 2


class Conflict(AuditorError):
    """The request clashes with the current state (a run of that target is already going, a name is taken)."""

    exit_code = 2  # a name taken (`auditor token create`) is a bad flag; 7 is a partial audit, never an error


class RunCancelled(AuditorError):
    """The audit was cancelled (``auditor.cancel``): raised before a request, it ends the whole audit.

    The collectors let it through rather than record it as their failure, and a shared read it interrupts is kept
    for nobody; only the service cancels (a run that lost its lease), and it ends the run quietly."""
