"""The study as a REDCap project sees it: what PyCap and REDCapR read and write at ``/api/``.

``project`` describes the project (metadata in REDCap's 18 keys with ``record_id`` first,
instruments, events, arms, the instrument–event mapping, export field names, centres as data
access groups); ``values`` maps stored records to REDCap's flat values and back; ``export``
streams records as flat rows (one per record and event, AERLI sessions and status changes
as repeating-instrument rows); ``filtering`` evaluates ``filterLogic`` with the project's
own expression parser; ``importing`` writes flat rows through the same services and rules as
``cohort import``, all or nothing. Nothing here knows about HTTP.
"""

from cohort.errors import CohortError


class BadParameter(CohortError):
    """A REDCap API parameter that cannot be honoured (REDCap answers 400)."""
