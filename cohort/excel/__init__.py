"""Excel workbooks for offline entry and reports: templates, import, annotated errors.

``templates`` builds entry workbooks from the data dictionary, ``reader`` reads filled ones
back (however they were edited), ``importer`` writes them through the normal services in one
transaction, ``annotate`` returns the person's workbook with every problem marked,
``redcap`` reads a REDCap records export, and ``report`` builds the research officers'
workbook. Business rules stay in the services; this package only translates.
"""
