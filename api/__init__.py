"""The web service: REST API under ``/api/v1`` and server-rendered pages, over ``cohort``.

Nothing here decides a protocol question: handlers translate HTTP to one service call and
back, and ``api.problems`` maps every domain error to a response in one place.
"""
