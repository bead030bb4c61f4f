"""The English catalogue: message id -> template with named parameters ({name}).

Ids are stable (other languages and stored deviations refer to them); the words may be
improved freely. Rule ids are kept as they are: ``rule.<rule id>`` is a rule's one-line
summary, ``<rule id>`` (and ``<rule id>.<variant>``) the reason it gives.
Parameters are JSON values: dates arrive as ISO text.
"""

from __future__ import annotations

from typing import Final

_RULES: Final[dict[str, str]] = {
    "rule.enrol.under_18": "Enrolment refused: under 18.",
    "rule.enrol.no_recent_injection": "Enrolment refused: no injection in the past month.",
    "rule.enrol.high_risk_site": "Enrolment refused: wishes to inject in the neck or groin.",
    "rule.enrol.no_consent": "Enrolment refused: no dated consent before inclusion.",
    "rule.enrol.inclusion_in_future": "Enrolment refused: inclusion dated in the future.",
    "rule.group.crossing": "Comparison participant cannot move to the intervention group.",
    "rule.group.locked_after_m0": "Group cannot change after M0.",
    "rule.visit.duplicate": "A second questionnaire for the same timepoint is refused.",
    "rule.date.before_inclusion": "Visit or session dated before inclusion.",
    "rule.date.in_future": "Visit or session dated in the future.",
    "rule.scope.role": "The person's role does not allow this write.",
    "rule.scope.other_centre": "Writing for another centre's participant is refused.",
    "rule.study.locked": "The study (or this centre) is locked: every write is refused.",
    "rule.export.no_purpose": "A full-cohort export needs a stated purpose.",
    "rule.session.comparison_group": "AERLI session for a comparison participant.",
    "rule.session.trained_staff": "Session with fewer than two AERLI-trained workers.",
    "rule.session.not_in_person": "Session not observed in person (online or phone).",
    "rule.session.high_risk_site": "Session observed an injection in the neck or groin.",
    "rule.session.after_follow_up": "Session after the end of follow-up.",
    "rule.visit.out_of_window": "Questionnaire outside its visit window.",
    "rule.time.no_session_6m": (
        "Intervention participant without a valid session within six months."),
    "rule.time.visit_overdue": "A follow-up questionnaire is overdue.",
    "rule.import.status_out_of_order": (
        "An import cannot add a status dated before a later stored change."),
    "rule.import.enrolment_changed": (
        "An import does not change a participant's enrolment answers (group aside)."),
    "rule.import.duplicate_enrolment": (
        "An enrolment row equal to a participant already enrolled is refused."),
    "rule.import.no_code": "A row with answers needs a participant code.",
    "rule.import.no_staff": "A session row must list the workers present.",
    "rule.import.unknown_staff": "Workers present must be known staff ids or usernames.",
    "rule.import.unreadable_value": (
        "A cell that cannot be read with certainty is refused, never guessed."),
    "rule.import.missing_column": "A required column is missing from the sheet.",
    "rule.import.unknown_column": "A column that is not a variable of the dictionary.",
    "rule.import.duplicate_column": "The same variable appears in two columns.",
    "rule.import.unnamed_column": "A filled column without a variable name.",
    "rule.import.dictionary_changed": (
        "A workbook made with a dictionary whose codes have changed meaning is refused."),
    "rule.import.refused": "A row the services refused for another reason (named in the message).",
    "rule.redcap.unknown_event": "A REDCap row of an event this study does not have.",
    "rule.redcap.not_in_event": (
        "A REDCap row with a value in a field its event or form does not ask."),
    "rule.redcap.repeating_row": (
        "A REDCap row holding several forms without its repeating instrument is refused."),
    "rule.participant.unknown": (
        "A row naming no participant the importing person may see is refused."),
}

_REASONS: Final[dict[str, str]] = {
    "enrol.under_18": "The person is {age}; the study enrols people aged {min_age} or over.",
    "enrol.no_recent_injection": "The study enrols people who have injected in the past month.",
    "enrol.high_risk_site": (
        "The protocol cannot include a person who wishes to inject in the neck or groin; "
        "please offer the usual harm-reduction support instead."),
    "enrol.no_consent": "Consent has not been given; nobody is enrolled without consent.",
    "enrol.no_consent.after_inclusion": (
        "Consent is dated {consent_date}, after inclusion on {inclusion_date}; consent must "
        "come first."),
    "enrol.inclusion_in_future": (
        "The inclusion date {inclusion_date} is in the future (today is {today}); please enter "
        "the day the person was included."),
    "group.crossing": (
        "A participant of the comparison group cannot move to the intervention group: their "
        "results would no longer be comparable. Sessions can still be offered as a service; "
        "they will be recorded as off-protocol."),
    "group.locked_after_m0": (
        "The group is fixed at M0 and cannot be changed once the M0 questionnaire exists."),
    "date.before_inclusion.date": (
        "This date ({when}) is before the participant's inclusion ({inclusion_date})."),
    "date.before_inclusion.visit": (
        "The visit date ({when}) is before the participant's inclusion ({inclusion_date})."),
    "date.before_inclusion.session": (
        "The session date ({when}) is before the participant's inclusion ({inclusion_date})."),
    "date.before_inclusion.status": (
        "The status date ({when}) is before the participant's inclusion ({inclusion_date})."),
    "date.in_future.date": "This date ({when}) is in the future; today is {today}.",
    "date.in_future.visit": "The visit date ({when}) is in the future; today is {today}.",
    "date.in_future.session": "The session date ({when}) is in the future; today is {today}.",
    "date.in_future.status": "The status date ({when}) is in the future; today is {today}.",
    "visit.duplicate": (
        "This participant already has an {timepoint} questionnaire; open it to correct it "
        "instead of entering a second one."),
    "scope.other_centre": (
        "This participant belongs to another centre; you can only write for your own."),
    "scope.role.review": (
        "Only research officers and data managers review deviations and download the "
        "monitoring report; please ask one of them."),
    "scope.role.admin": "Only data managers (admins) manage centres, staff and accounts.",
    "scope.role.choose_centre": "Outreach workers work with their own centre's participants only.",
    "scope.role.lock": "Only the data manager locks or unlocks the study.",
    "scope.role.offline_entry": "Offline entry on a phone is for outreach workers of a centre.",
    "scope.role.access_log": (
        "Only research officers and data managers review who read and exported participants' "
        "records."),
    "scope.role.export_log": (
        "The export log is reviewed by the data manager and national research officers: "
        "exports can cover centres you do not follow."),
    "scope.person_needed": (
        "{what} is done in a person's name, not by the {system}: give the staff member who "
        "does it (on the command line: --as USERNAME)."),
    "scope.role.read_only": "Statisticians have read-only access to de-identified data.",
    "study.locked": (
        "The study is locked: its data are final and nothing more can be saved. Reading and "
        "exporting still work; the data manager can unlock it."),
    "study.locked.centre": (
        "This centre's data are locked: nothing more can be saved for its participants. "
        "Reading and exporting still work; the data manager can unlock it."),
    "export.no_purpose": (
        "Please say what this export of the whole cohort is for (its purpose is kept in the "
        "export log)."),
    "visit.out_of_window": (
        "{timepoint} visit on {visit_date} is outside its window ({opens} to {closes}; "
        "{offset:+d} days from target)."),
    "session.comparison_group": (
        "Session delivered to a comparison-group participant: recorded as a service, "
        "off-protocol, not counted for the study."),
    "session.trained_staff": (
        "Only {trained} AERLI-trained worker(s) present; the protocol asks for {required}."),
    "session.not_in_person.online": (
        "Session held online: AERLI needs the injection observed in person, so it does not "
        "count for the protocol."),
    "session.not_in_person.phone": (
        "Session held by phone: AERLI needs the injection observed in person, so it does not "
        "count for the protocol."),
    "session.high_risk_site.neck": (
        "Injection observed in the neck, a high-risk site the protocol excludes; please "
        "discuss safer sites."),
    "session.high_risk_site.groin": (
        "Injection observed in the groin, a high-risk site the protocol excludes; please "
        "discuss safer sites."),
    "session.after_follow_up": "Session on {session_date} is after the end of follow-up ({end}).",
    "time.no_session_6m": (
        "No valid AERLI session within six months of inclusion (deadline {deadline})."),
    "time.visit_overdue": "{timepoint} questionnaire overdue: its window closed on {closes}.",
}

#: A deviation as listed: the participant's code, then the reason.
_DEVIATIONS: Final[dict[str, str]] = {
    "deviation.text": "{participant}: {text}",
    "password.too_short": (
        "The password is too short: please use at least {min} characters. A few unrelated "
        "words, such as four words picked at random, are easy to remember and hard to guess."),
    "password.too_long": "The password is too long: please use at most {max} characters.",
    "password.guessable": (
        "This password is easy to guess ({warning}). A few unrelated words, such as four words "
        "picked at random, are easy to remember and hard to guess."),
    "password.guessable.common": (
        "This password is easy to guess (it is a common or predictable password). A few "
        "unrelated words, such as four words picked at random, are easy to remember and hard "
        "to guess."),
    "password.built_on_names": (
        "This password is built on the study's name, the centre or the username, which anyone "
        "can guess. A few unrelated words, such as four words picked at random, are easy to "
        "remember and hard to guess."),
    "job.unknown_kind": "Unknown kind of job '{kind}'; this process cannot run it.",
    "job.not_found": "No job {job_id}.",
    "check.future_date": (
        "Cannot check as of {as_of}: that is in the future (today is {today}). Give a date up "
        "to today, or leave it out to check as of today."),
    "legacy.text": "{text}",
}

#: Refusals of the services (records not found, accounts, locks, reviews, answers).
_SERVICES: Final[dict[str, str]] = {
    "account.bad_username": (
        "'{username}' cannot be a username: use letters, digits, '.', '_' or '-' (at most 80 "
        "characters)."),
    "staff.not_found": "No staff member with id {staff_id}.",
    "account.username_taken": "The username '{name}' is taken; please choose another one.",
    "account.exists": "{name} already has an account.",
    "account.not_found": "No account with id {account_id}.",
    "account.cannot_disable_self": (
        "You cannot disable your own account; ask another data manager."),
    "participant.not_found": "No participant with code {code}.",
    "visit.unknown": "There is no timepoint '{value}'; use {visits}.",
    "session.not_found": "No AERLI session with id {id}.",
    "review.none_ticked": "Please tick at least one deviation to review.",
    "review.too_many": "Please review at most {limit} deviations at once ({ticked} were ticked).",
    "review.comment_needed_many": (
        "Please say how the deviations were resolved (a comment is required)."),
    "session.correction_reason_needed": (
        "Please say why the session is corrected (a reason is required)."),
    "session.correction_reason_too_long": "Please keep the reason under {limit} characters.",
    "session.correction_unchanged": "Nothing was changed: the session already reads like this.",
    "answer.required": "Please answer this question.",
    "answer.too_long": "Please keep it under {limit} characters.",
    "sync.bad_uuid": "The entry's id is not a UUID.",
    "sync.visit_needed": "Say which visit ({visits}).",
    "sync.participant_needed": "Say which participant.",
    "sync.version_needed": "Say which version is corrected.",
    "staff.not_active": "No active staff member with id {staff_id}.",
    "deviation.not_found": "No deviation with id {deviation_id}.",
    "deviation.cannot_reopen": "A deviation can be acknowledged or resolved, not reopened.",
    "deviation.comment_needed": (
        "Please say how the deviation was resolved (a comment is required)."),
    "deviation.already_resolved": "This deviation is already resolved.",
    "centre.not_found": "No centre with code {code}.",
    "enrol.codes_used_up": (
        "Centre {code} has used all {max:,} study codes. Nothing was saved: please ask the "
        "data manager to open a new centre code for new participants."),
    "screening.enrolled_logged_by_enrolment": "Enrolled people are logged by enrolment itself.",
    "enrol.centre_needed": "Please say which centre this is for (centre code).",
    "questionnaire.not_found": "{code} has no {timepoint} questionnaire yet.",
    "questionnaire.stale": (
        "This {timepoint} questionnaire was changed by someone else (version {current}, you "
        "loaded {expected}). Reload it to see their changes, then make yours again."),
    "staff.unknown_workers": "Unknown staff member(s): {workers}.",
    "session.workers_needed": "Please list the workers present at the session.",
    "centre.exists": "A centre with code {code} already exists.",
    "staff.cannot_deactivate_self": (
        "You cannot mark yourself as no longer active; please ask another data manager."),
    "centre.not_found_id": "No centre with id {centre_id}.",
    "lock.reason_needed.lock.study": (
        "Please give a reason to lock the study (it is kept in the lock history)."),
    "lock.reason_needed.unlock.study": (
        "Please give a reason to unlock the study (it is kept in the lock history)."),
    "lock.reason_needed.lock.centre": (
        "Please give a reason to lock centre {centre} (it is kept in the lock history)."),
    "lock.reason_needed.unlock.centre": (
        "Please give a reason to unlock centre {centre} (it is kept in the lock history)."),
    "lock.already_locked.study": "The study is already locked.",
    "lock.already_locked.centre": "Centre {centre} is already locked.",
    "lock.not_locked.study": "The study is not locked.",
    "lock.not_locked.centre": "Centre {centre} is not locked.",
    "status.not_allowed": "{code} is '{current}'; it cannot become '{requested}'.",
    "validation.failed.questionnaire": "Some {timepoint} answers need correcting — {summary}",
    "validation.failed_more.questionnaire": (
        "Some {timepoint} answers need correcting — {summary} (and {more} more)"),
    "validation.failed.answers": "Some answers need correcting — {summary}",
    "validation.failed.entry": "This entry needs correcting — {summary}",
    "validation.failed_more.entry": "This entry needs correcting — {summary} (and {more} more)",
    "validation.failed_more.answers": "Some answers need correcting — {summary} (and {more} more)",
    "validation.failed.session": "Some session answers need correcting — {summary}",
    "validation.failed_more.session": (
        "Some session answers need correcting — {summary} (and {more} more)"),
    "validation.failed.session_answers": "Some session answers need correcting — {summary}",
    "validation.failed_more.session_answers": (
        "Some session answers need correcting — {summary} (and {more} more)"),
    "validation.failed.enrolment": "Some enrolment answers need correcting — {summary}",
    "validation.failed_more.enrolment": (
        "Some enrolment answers need correcting — {summary} (and {more} more)"),
    "validation.failed.enrolment_answers": "Some enrolment answers need correcting — {summary}",
    "validation.failed_more.enrolment_answers": (
        "Some enrolment answers need correcting — {summary} (and {more} more)"),
    "validation.failed.status_answers": (
        "Some follow-up status answers need correcting — {summary}"),
    "validation.failed_more.status_answers": (
        "Some follow-up status answers need correcting — {summary} (and {more} more)"),
}

#: Problems of workbooks, cells and REDCap exports being imported.
_IMPORT: Final[dict[str, str]] = {
    "cell.not_a_code": "'{value}' is not a participant code; codes look like C04-0012.",
    "cell.number_expected": "Please type a number here (the cell holds a date or a yes/no).",
    "cell.date_with_time": (
        "This cell holds a date and a time; please type the date only, like 2026-03-31."),
    "cell.number_not_date": (
        "'{value:g}' is a number, not a date (was the cell formatted as a number?). Please "
        "type the date like 2026-03-31."),
    "cell.month_first_date": (
        "'{text}' looks like month/day/year; dates are read as day/month/year. Please type it "
        "like 2026-03-31."),
    "cell.date_not_in_calendar": (
        "'{text}' is not a date that exists in the calendar. Please type it like 2026-03-31 "
        "(year-month-day) or 31/03/2026 (day/month/year)."),
    "cell.two_digit_year": (
        "'{text}' has a two-digit year; please write the year in full, like 31/03/2026 or "
        "2026-03-31."),
    "cell.not_a_date": (
        "'{text}' is not a date. Please type it like 2026-03-31 (year-month-day) or 31/03/2026 "
        "(day/month/year)."),
    "cell.not_in_list": (
        "'{text}' does not match the list ({words}); please pick the answer again from the "
        "list."),
    "cell.not_a_choice": "'{text}' is not one of the answers: {words}.",
    "cell.not_a_tick_number": "'{value:g}' is neither 1 (yes, ticked) nor 0 (no).",
    "cell.not_a_tick": "'{value}' is neither 1 = Yes (ticked) nor 0 = No.",
    "workbook.bad_row_number": (
        "The sheet '{title}' has a row numbered '{value}', which is not a row number; please "
        "save the file again from Excel or LibreOffice."),
    "workbook.sheet_too_many_rows": (
        "The sheet '{title}' has a row numbered {index:,}; at most {max_row:,} rows are read. "
        "Please delete the rows below your entries, or split the workbook."),
    "workbook.sheet_too_many_columns": (
        "The sheet '{title}' has a cell in column '{value}'; at most {max_column:,} columns "
        "are read."),
    "workbook.file_too_big": (
        "The file is {size}; at most {limit} is accepted. Please split it into smaller "
        "workbooks."),
    "workbook.too_many_parts": (
        "This workbook has {parts:,} parts; a workbook of ours has a few dozen (at most "
        "{limit})."),
    "workbook.too_many_sheets": (
        "This workbook has {sheets} sheets; at most {limit} are read. Please split it."),
    "workbook.too_big_decompressed": (
        "This workbook holds {size} once decompressed; at most {limit} is accepted. Please "
        "split it into smaller workbooks (or it is not a real workbook)."),
    "workbook.text_too_big": "This workbook's text takes {size}; at most {limit} is accepted.",
    "workbook.doctype": (
        "The part {part} of this workbook declares a DOCTYPE or entities, which no spreadsheet "
        "program writes; it was not read. Please save the file again from Excel or "
        "LibreOffice."),
    "workbook.too_many_rows": (
        "This workbook has more than {limit:,} rows; please split it into smaller workbooks."),
    "workbook.damaged_part": (
        "The part {part} of this workbook is damaged ({error}); please save it again."),
    "workbook.row_too_far": (
        "A sheet of this workbook ({sheet}) reaches row {row:,}; at most {limit:,} rows are "
        "read. Please delete the rows below your entries, or split the workbook."),
    "workbook.column_too_far": (
        "A sheet of this workbook ({sheet}) reaches column {column}; at most {limit:,} columns "
        "are read."),
    "import.no_code": (
        "This row has answers but no participant code; add the code (for example C04-0012) or "
        "clear the row."),
    "import.duplicate_enrolment": (
        "This row matches participant {twin} answer for answer (already enrolled?). Delete the "
        "row; if it really is another person, enrol them on the web page."),
    "workbook.duplicate_column": (
        "Columns {first} and {second} both hold '{name}'; keep one of them."),
    "workbook.unknown_column": (
        "'{name}' (row {row}, column {column}) is not a variable of this workbook; correct the "
        "name or delete the column."),
    "workbook.missing_column": (
        "The column '{label}' ({name}) is missing; add it back (copy it from a new template)."),
    "workbook.unnamed_column": (
        "Column {column} has no variable name in row {row}, so its value cannot be read; move "
        "it to the right column or delete it."),
    "import.record_moved_meanwhile": (
        "Record {record} was moved over by another import a moment ago; nothing was saved from "
        "this one. Import the export again: the record is then recognised."),
    "import.status_reason_needed": "{label}: a status change needs it.",
    "import.status_reason_too_long": "{label}: please keep it under {limit} characters.",
    "redcap.too_many_rows": (
        "{name} has more than {limit:,} rows; please export the records in smaller parts."),
    "redcap.unknown_column": (
        "'{column}' is not a variable of the data dictionary; remove the column or load the "
        "dictionary it comes from."),
    "redcap.unknown_event": "'{event}' is not one of the study's events ({events}).",
    "redcap.staff_on_session_rows": (
        "'{column}' is read on AERLI session rows only; clear it on this row."),
    "redcap.no_answers": "{name} holds no answers to import.",
    "redcap.several_forms": (
        "This {event} row holds answers of several forms ({forms}) and names no repeating "
        "instrument; export the records again with the redcap_repeat_instrument column, one "
        "form per row."),
    "template.timepoint_needed": (
        "Please say which timepoint the questionnaire is for ({visits})."),
    "workbook.other_version_lists": (
        "This workbook was made from another version of the data dictionary, and its hidden "
        "sheet '{sheet}' (the answers of each list) is gone, so whether its answer codes still "
        "mean the same cannot be checked. Nothing was read, so that no answer is saved with "
        "another meaning: please copy the answers into a new template (cohort template, or the "
        "Workbooks page), picking each of these answers again from its list."),
    "workbook.other_version_column": (
        "This workbook was made from another version of the data dictionary: the column "
        "'{said}' ({name}) now means '{now}'. Nothing was read, so that no answer is saved "
        "with another meaning: please copy the answers into a new template (cohort template, "
        "or the Workbooks page), picking each of these answers again from its list."),
    "workbook.other_version_choices": (
        "This workbook was made from another version of the data dictionary, in which the "
        "answers to '{label}' ({name}) had other codes: {changes}. Nothing was read, so that "
        "no answer is saved with another meaning: please copy the answers into a new template "
        "(cohort template, or the Workbooks page), picking each of these answers again from "
        "its list."),
    "redcap.not_asked_in_form": (
        "'{column}' is not asked in the form '{form}', but has a value on this row; move it to "
        "the right row or clear it."),
    "redcap.not_asked_at_event": (
        "'{column}' is not asked in {timepoint} ({event}), but has a value on this row; move "
        "it to the right row or clear it."),
    "import.no_staff": "Please list the workers present at the session (staff ids or usernames).",
    "import.unknown_staff": "Unknown worker(s): {workers}; use staff ids or usernames.",
    "import.duplicate_visit.export": (
        "Row {row} of this export already has record {code}'s {timepoint} questionnaire. Keep "
        "the answers in one of the two rows and clear the other."),
    "import.duplicate_visit.export.other_sheet": (
        "Row {row} of the sheet '{sheet}' of this export already has record {code}'s "
        "{timepoint} questionnaire. Keep the answers in one of the two rows and clear the "
        "other."),
    "import.duplicate_visit.workbook": (
        "Row {row} of this workbook already has {code}'s {timepoint} questionnaire. Keep the "
        "answers in one of the two rows and clear the other."),
    "import.duplicate_visit.workbook.other_sheet": (
        "Row {row} of the sheet '{sheet}' of this workbook already has {code}'s {timepoint} "
        "questionnaire. Keep the answers in one of the two rows and clear the other."),
    "import.other_centre_record": (
        "Record {record} was moved over earlier as a participant of a centre you do not work "
        "with; nothing of this record can be imported in your name. Ask a research officer of "
        "that centre to import the export."),
    "import.status_out_of_order": (
        "{code}'s status history already has a later change ({later} on {later_date}); a "
        "status dated {date} cannot be added before it by an import. Check the date in REDCap; "
        "if it is right, ask the data manager to add it."),
    "import.enrolment_changed": (
        "{label}: {code} was enrolled with '{stored}', and enrolment answers are not changed "
        "by an import ('{sent}' was sent). Ask the data manager if the enrolment record is "
        "wrong."),
    "workbook.unknown_kind": "Unknown workbook kind '{kind}' in the hidden _meta sheet.",
    "workbook.unknown_sheet_kind": (
        "Cannot tell what the sheet '{sheet}' holds (enrolment, questionnaire or AERLI "
        "sessions); please use a template."),
    "workbook.unknown_timepoint": "Unknown timepoint '{timepoint}' in the hidden _meta sheet.",
    "redcap.nul_characters": (
        "{name} contains NUL characters, so it is not a CSV export; export the records from "
        "REDCap as CSV again."),
    "redcap.bad_csv": (
        "{name} cannot be read as CSV ({error}); export the records from REDCap as CSV again."),
    "redcap.not_utf8": (
        "{name} is neither an .xlsx workbook nor a UTF-8 CSV file; export the records from "
        "REDCap as CSV."),
    "redcap.empty": "{name} is empty or not a CSV export of REDCap records.",
    "workbook.not_xlsx": (
        "This file is not an Excel workbook (.xlsx) that can be read; save it as 'Excel "
        "2007-365 (.xlsx)' and try again ({error})."),
    "workbook.damaged_xml": (
        "Part of this workbook cannot be read (its XML is damaged or unusual); please open it "
        "in Excel or LibreOffice, save it as 'Excel 2007-365 (.xlsx)' and try again ({error})."),
    "workbook.no_entry_sheet": (
        "No entry sheet found: none has the row of variable names (participant_code, "
        "visit_date, …) under the questions. Please use a template made by `cohort template` "
        "and keep rows 1 and 2 as they are."),
    "import.stopped": (
        "The import stopped on an unexpected error ({error}: {detail}); nothing was saved. "
        "Please report this to the data manager."),
    "workbook.sheet_timepoint_mismatch": (
        "The sheet '{sheet}' is named for {named}, but this workbook was made for {made_for} "
        "questionnaires. Nothing was read: rename the sheet, or copy its rows into a {named} "
        "template."),
    "workbook.sheet_timepoint_unknown": (
        "Cannot tell the timepoint of the sheet '{sheet}'; name it {names}, or use a "
        "template."),
    "workbook.mixed_kinds": (
        "This workbook mixes kinds of rows ({sheets}). Nothing was read: please put each kind "
        "in its own workbook (a new template) and import them one by one."),
    "redcap.no_event_column": (
        "{name} has no '{column}' column: export the records of the longitudinal project, with "
        "the event column, in REDCap's flat CSV format."),
    "cell.date_formatted.typed.choice": (
        "This cell is formatted as a date, so the {typed} typed here reads as the date "
        "{shown}. Pick the answer from the list, or format the cell as text (Format > Cells > "
        "Text) and type the code of the answer ({words}) again."),
    "cell.date_formatted.typed.tick": (
        "This cell is formatted as a date, so the {typed} typed here reads as the date "
        "{shown}. Pick the answer from the list, or format the cell as text (Format > Cells > "
        "Text) and type 1 (ticked) or 0 (not ticked) again."),
    "cell.date_formatted.choice": (
        "This cell is formatted as a date and holds {shown}, which is not an answer here. Pick "
        "the answer from the list, or format the cell as text (Format > Cells > Text) and type "
        "the code of the answer ({words}) again."),
    "cell.date_formatted.tick": (
        "This cell is formatted as a date and holds {shown}, which is not an answer here. Pick "
        "the answer from the list, or format the cell as text (Format > Cells > Text) and type "
        "1 (ticked) or 0 (not ticked) again."),
    "cell.time_formatted.choice": (
        "This cell is formatted as a time and holds {shown}, which is not an answer here. Pick "
        "the answer from the list, or format the cell as text (Format > Cells > Text) and type "
        "the code of the answer ({words}) again."),
    "cell.time_formatted.tick": (
        "This cell is formatted as a time and holds {shown}, which is not an answer here. Pick "
        "the answer from the list, or format the cell as text (Format > Cells > Text) and type "
        "1 (ticked) or 0 (not ticked) again."),
    "redcap.not_repeating": (
        "Rows of the repeating instrument '{label}' ({instrument}) cannot be imported: in this "
        "study only {ongoing} repeat, and '{instrument}' is filled once per event. Export it "
        "as a non-repeating form, or remove these rows."),
    "redcap.unknown_instrument": (
        "'{instrument}' is not a form of this study's data dictionary, so its rows cannot be "
        "imported; only {ongoing} repeat. Remove these rows."),
    "import.no_staff.redcap": (
        "REDCap's AERLI session form does not say who was present, and a session is saved with "
        "its workers only: add a column '{column}' to the export with the staff ids or "
        "usernames of the workers present at each session (separated by commas), then import "
        "it again."),
}

#: More refusals of the services (accounts, staff, bulk saves).
_SERVICES_2: Final[dict[str, str]] = {
    "account.unknown_username": (
        "No account with the username '{username}': please check the spelling in the list of "
        "accounts."),
    "bulk.refused.one": "1 row refused; nothing was saved.",
    "bulk.refused": "{count} rows refused; nothing was saved.",
    "visit.duplicate.just_saved": (
        "{code} already has a {timepoint} questionnaire (it was saved a moment ago, perhaps by "
        "a second tap on Save). Open it to check or correct it."),
    "staff.centre_needed": (
        "Outreach workers belong to a centre: please choose the centre this person works for."),
    "staff.extra_centres_not_allowed": (
        "Only research officers can be limited to a list of centres: please leave the list "
        "empty for this role."),
    "staff.training_in_future": (
        "The date {date} is in the future: please enter the date the AERLI training was "
        "completed (today, {today}, or earlier)."),
    "validation.failed.staff_details": "Some staff details need correcting — {summary}",
    "validation.failed_more.staff_details": (
        "Some staff details need correcting — {summary} (and {more} more)"),
}

CATALOGUE: Final[dict[str, str]] = {
    **_RULES,
    **_REASONS,
    **_DEVIATIONS,
    **_SERVICES,
    **_IMPORT,
    **_SERVICES_2,
}
