"""Services that let anyone publish a page under someone else's domain.

Most phishing today sits on such services: free hosting and site builders,
serverless and static-site platforms, link-in-bio pages, dynamic DNS and URL
shorteners. A URL on one of them says nothing good or bad by itself, but it
tells a model that the domain's reputation is not the page's.

The lists are trustwatch's own, kept short and to services that are widely
abused; :func:`hosting_kind` matches a host or any parent domain of it.
"""

from __future__ import annotations

__all__ = ["HOSTING_KINDS", "hosting_kind"]

_HOSTING = """
000webhostapp.com weebly.com weeblysite.com wixsite.com wix.com wixstudio.com
web.app firebaseapp.com firebasestorage.app appspot.com glitch.me netlify.app
netlify.com vercel.app pages.dev workers.dev github.io gitlab.io herokuapp.com
repl.co replit.app replit.dev azurewebsites.net azureedge.net windows.net
r2.dev ipfs.io dweb.link square.site godaddysites.com mystrikingly.com
strikingly.com webflow.io framer.app framer.website translate.goog
sharepoint.com myshopify.com gitbook.io wordpress.com blogspot.com
sites.google.com start.page yolasite.com jimdosite.com jimdo.com
webnode.page webnode.com site123.me tilda.ws ukit.me wcomhost.com
sg-host.com hostingersite.com surge.sh render.com onrender.com fly.dev
cloudfront.net amazonaws.com s3.amazonaws.com storage.googleapis.com
blob.core.windows.net web.core.windows.net ngrok.io ngrok-free.app
ngrok.app trycloudflare.com loca.lt serveo.net pythonanywhere.com
000webhost.com byethost.com epizy.com rf.gd infinityfreeapp.com
freehosting.com biz.nf atwebpages.com weblium.site notion.site
typedream.app softr.app bubbleapps.io glideapp.io umso.co mailchimpsites.com
mypixieset.com canva.site my.canva.site webcindario.com
""".split()

_SHORTENERS = """
bit.ly bitly.com tinyurl.com t.co is.gd v.gd cutt.ly rb.gy shorturl.at ow.ly
buff.ly rebrand.ly s.id t.ly tiny.cc goo.gl qrco.de qr.codes shorturl.asia
lnkd.in t.me 2u.pw urlz.fr x.gd clck.ru short.gy bl.ink shorte.st adf.ly
""".split()

_DYNAMIC_DNS = """
duckdns.org no-ip.com no-ip.org ddns.net hopto.org zapto.org sytes.net
serveftp.com servehttp.com myftp.org dynu.net dynu.com dns-dynamic.net
freedns.afraid.org mooo.com chickenkiller.com dnsfor.me dynv6.net
ddnsfree.com ddns.me ygto.com kozow.com linkpc.net 3utilities.com
bounceme.net redirectme.net servebeer.com serveblog.net
""".split()

_LINK_IN_BIO = """
linktr.ee flow.page beacons.ai lnk.bio campsite.bio bio.link taplink.cc
linkin.bio msha.ke hoo.be solo.to allmylinks.com about.me carrd.co
""".split()

HOSTING_KINDS: dict[str, frozenset[str]] = {
    "hosting": frozenset(_HOSTING),
    "shortener": frozenset(_SHORTENERS),
    "dynamic_dns": frozenset(_DYNAMIC_DNS),
    "link_in_bio": frozenset(_LINK_IN_BIO),
}
"""Each kind of publishing service and the domains trustwatch knows for it."""

_KIND_OF: dict[str, str] = {}
for _kind in ("hosting", "shortener", "dynamic_dns", "link_in_bio"):
    for _domain in HOSTING_KINDS[_kind]:
        _KIND_OF[_domain] = _kind


def hosting_kind(host: str, registrable: str = "") -> str:
    """Return the kind of publishing service ``host`` belongs to, or ``""``.

    The host itself and each parent domain of it are looked up, nearest
    first, so ``x.sites.google.com`` is ``"hosting"`` while ``www.google.com``
    is not (only the exact listed names and their subdomains count).

    Examples
    --------
    >>> hosting_kind("login-verify.weeblysite.com")
    'hosting'
    >>> hosting_kind("bit.ly")
    'shortener'
    >>> hosting_kind("example.com")
    ''
    """
    del registrable  # the parents of ``host`` already include it
    labels = host.split(".")
    for start in range(len(labels) - 1):
        kind = _KIND_OF.get(".".join(labels[start:]))
        if kind is not None:
            return kind
    return ""
