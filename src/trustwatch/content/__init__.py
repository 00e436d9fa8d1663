"""URLs and forms carried by uploaded files: HTML, PDF, Office and RTF.

Uploaded files are a common phishing carrier: an HTML page with a credential
form, or a PDF or Office document whose only content is a "view document"
link. :func:`extract_content` reads the bytes (never the network) and returns
what a URL scorer needs, plus risky traits such as macros or a password form
that posts to another domain.
"""

from trustwatch.content.extract import extract_content, sniff_kind
from trustwatch.content.model import Extraction, FoundForm, FoundUrl

__all__ = ["Extraction", "FoundForm", "FoundUrl", "extract_content", "sniff_kind"]
