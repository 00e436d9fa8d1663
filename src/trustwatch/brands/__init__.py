"""Brand impersonation: a catalogue of brands and their own domains, and a matcher.

>>> from trustwatch.enrichment.urls import parse_url
>>> hits = find_impersonation(parse_url("paypal.com.secure-login.example"))
>>> [(hit.brand, hit.technique) for hit in hits]
[('paypal', 'brand_in_subdomain')]
"""

from trustwatch.brands.catalogue import Brand, Catalogue, load_catalogue
from trustwatch.brands.impersonation import (
    TECHNIQUES,
    BrandHit,
    BrandMatcher,
    clear_caches,
    find_impersonation,
    imitates_brand,
    within_one_edit,
)

__all__ = [
    "TECHNIQUES",
    "Brand",
    "BrandHit",
    "BrandMatcher",
    "Catalogue",
    "clear_caches",
    "find_impersonation",
    "imitates_brand",
    "load_catalogue",
    "within_one_edit",
]
