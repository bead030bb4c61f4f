"""The study's questionnaires as data: REDCap data dictionaries, validation, codebooks.

Forms, validation, entry templates, codebook and export labels all derive from one CSV in
REDCap's data-dictionary format, so a REDCap user can bring their dictionary and ours loads
into REDCap. This package imports nothing from the rest of the project.
"""

from forms.dictionary import DataDictionary, FormDefinition
from forms.errors import DictionaryError, DictionaryProblem, ExpressionError
from forms.evaluate import compile_expression
from forms.events import EventMapping
from forms.expressions import Node, parse_expression
from forms.fields import Field
from forms.functions import Env
from forms.loader import default_dictionary, load_dictionary, load_dictionary_text
from forms.validation import FieldProblem, ValidationResult

__all__ = [
    "DataDictionary",
    "DictionaryError",
    "DictionaryProblem",
    "Env",
    "EventMapping",
    "ExpressionError",
    "Field",
    "FieldProblem",
    "FormDefinition",
    "Node",
    "ValidationResult",
    "compile_expression",
    "default_dictionary",
    "load_dictionary",
    "load_dictionary_text",
    "parse_expression",
]
