"""REDCap's API at ``POST /api/``: PyCap and REDCapR scripts work with a URL and a token.

``params`` reads the form as REDCap does, ``answers`` writes CSV/JSON bodies and errors in
the caller's ``returnFormat``, ``router`` checks the token and hands each ``content`` to
``cohort.redcap``. No business rule lives here.
"""
