"""Ordinary URLs that users of a file-sharing platform paste into comments.

Documentation pages, news, code hosting, shops and public-service sites of
large, long-established organisations. They are strings for the simulator to
post, never fetched. Paths vary so that a URL model cannot key on the host
alone.
"""

from __future__ import annotations

__all__ = ["BENIGN_URLS"]

_BY_HOST: dict[str, tuple[str, ...]] = {
    "https://docs.python.org": (
        "/3/library/asyncio.html",
        "/3/library/dataclasses.html",
        "/3/tutorial/errors.html",
        "/3/whatsnew/3.13.html",
        "/3/library/pathlib.html#basic-use",
    ),
    "https://developer.mozilla.org": (
        "/en-US/docs/Web/HTTP/Headers/Content-Security-Policy",
        "/en-US/docs/Web/JavaScript/Reference/Global_Objects/Promise",
        "/en-US/docs/Web/CSS/grid-template-columns",
        "/en-US/docs/Web/API/Fetch_API/Using_Fetch",
        "/en-US/docs/Learn/Accessibility",
    ),
    "https://en.wikipedia.org": (
        "/wiki/Public_key_infrastructure",
        "/wiki/Phishing",
        "/wiki/Great_Barrier_Reef",
        "/wiki/Renaissance_architecture",
        "/wiki/List_of_largest_cities",
        "/wiki/Photosynthesis",
    ),
    "https://github.com": (
        "/python/cpython/issues",
        "/torvalds/linux/blob/master/README",
        "/microsoft/vscode/releases",
        "/pandas-dev/pandas/pull/58000",
        "/rust-lang/rust/blob/master/RELEASES.md",
    ),
    "https://stackoverflow.com": (
        "/questions/231767/what-does-the-yield-keyword-do-in-python",
        "/questions/927358/how-do-i-undo-the-most-recent-local-commits-in-git",
        "/questions/111102/how-do-javascript-closures-work",
        "/questions/4842424/list-of-ansi-color-escape-sequences",
        "/tags/postgresql",
    ),
    "https://www.youtube.com": (
        "/watch?v=aqz-KE-bpKQ",
        "/watch?v=rfscVS0vtbw&t=120s",
        "/@NASA/videos",
        "/playlist?list=PL4cUxeGkcC9gZD-Tvwfod2gaISzfRiP9d",
        "/watch?v=8jLOx1hD3_o",
    ),
    "https://learn.microsoft.com": (
        "/en-us/azure/storage/blobs/storage-blobs-introduction",
        "/en-us/dotnet/csharp/tour-of-csharp/",
        "/en-us/windows/wsl/install",
        "/en-us/microsoft-365/admin/setup/plan-your-setup",
        "/en-gb/office/troubleshoot/excel/wrong-date-format",
    ),
    "https://support.google.com": (
        "/mail/answer/8494?hl=en",
        "/accounts/answer/185839",
        "/drive/answer/2424384",
        "/chrome/answer/95346?co=GENIE.Platform%3DDesktop&hl=en",
        "/calendar/answer/37082",
    ),
    "https://docs.aws.amazon.com": (
        "/AmazonS3/latest/userguide/Welcome.html",
        "/lambda/latest/dg/welcome.html",
        "/IAM/latest/UserGuide/best-practices.html",
        "/cli/latest/userguide/getting-started-install.html",
        "/vpc/latest/userguide/configure-subnets.html",
    ),
    "https://www.bbc.co.uk": (
        "/news/technology",
        "/news/world-europe",
        "/sport/football/premier-league",
        "/food/recipes/easy_chocolate_cake_31070",
        "/weather/2643743",
    ),
    "https://www.nytimes.com": (
        "/section/technology",
        "/section/science",
        "/wirecutter/reviews/best-laptops/",
        "/crosswords",
        "/section/business/economy",
    ),
    "https://www.theguardian.com": (
        "/uk",
        "/environment/climate-crisis",
        "/technology/artificialintelligenceai",
        "/travel/europe",
        "/books/series/bookclub",
    ),
    "https://www.reuters.com": (
        "/markets/",
        "/technology/cybersecurity/",
        "/world/europe/",
        "/business/energy/",
    ),
    "https://www.amazon.com": (
        "/gp/help/customer/display.html?nodeId=GKM69DUUYKQWKWX7",
        "/s?k=usb+c+hub",
        "/gp/css/order-history",
        "/b?node=16225009011",
    ),
    "https://www.apple.com": (
        "/iphone/compare/",
        "/macbook-air/",
        "/shop/buy-ipad/ipad-air",
        "/privacy/features/",
    ),
    "https://support.apple.com": (
        "/en-us/102629",
        "/en-us/guide/iphone/iph3c511340/ios",
        "/en-gb/HT201236",
        "/en-us/docs/mac",
    ),
    "https://www.microsoft.com": (
        "/en-us/microsoft-365/excel",
        "/en-us/windows/windows-11-specifications",
        "/en-us/security/blog/",
        "/en-gb/download/details.aspx?id=49117",
    ),
    "https://www.linkedin.com": (
        "/company/microsoft/",
        "/learning/topics/project-management",
        "/pulse/topics/home/",
        "/jobs/search/?keywords=data%20engineer",
    ),
    "https://www.reddit.com": (
        "/r/AskHistorians/wiki/faq/",
        "/r/photography/",
        "/r/Python/top/?t=week",
        "/r/personalfinance/wiki/index/",
    ),
    "https://news.ycombinator.com": (
        "/item?id=38483424",
        "/news?p=2",
        "/show",
        "/ask",
    ),
    "https://arxiv.org": (
        "/abs/1706.03762",
        "/abs/2005.14165",
        "/list/cs.CR/recent",
        "/pdf/1810.04805",
    ),
    "https://www.nature.com": (
        "/articles/s41586-021-03819-2",
        "/nature/articles?type=news",
        "/subjects/climate-change",
        "/srep/",
    ),
    "https://www.gov.uk": (
        "/renew-adult-passport",
        "/check-state-pension",
        "/government/organisations/hm-revenue-customs",
        "/browse/driving/driving-licences",
    ),
    "https://www.irs.gov": (
        "/forms-pubs/about-form-w-9",
        "/filing/individuals",
        "/payments",
        "/help/ita",
    ),
    "https://www.who.int": (
        "/news-room/fact-sheets/detail/malaria",
        "/health-topics/influenza-seasonal",
        "/emergencies/situations",
    ),
    "https://europa.eu": (
        "/youreurope/citizens/travel/index_en.htm",
        "/european-union/about-eu/countries_en",
        "/youreurope/business/index_en.htm",
    ),
    "https://www.nasa.gov": (
        "/missions/artemis/",
        "/image-of-the-day/",
        "/learning-resources/for-educators/",
    ),
    "https://www.wikihow.com": (
        "/Write-a-Cover-Letter",
        "/Make-Sourdough-Bread",
        "/Change-a-Tire",
    ),
    "https://www.spotify.com": (
        "/us/premium/",
        "/uk/account/overview/",
        "/de/legal/privacy-policy/",
    ),
    "https://open.spotify.com": (
        "/playlist/37i9dQZF1DXcBWIGoYBM5M",
        "/album/4m2880jivSbbyEGAKfITCa",
        "/show/2MAi0BvDc6GTFvKFPXnkCL",
    ),
    "https://www.nytimes.com/games": ("/wordle/index.html", "/connections"),
    "https://maps.google.com": ("/?q=Eiffel+Tower", "/?q=Central+Park+New+York"),
    "https://www.google.com": (
        "/maps/place/Sydney+Opera+House",
        "/search?q=weather+berlin",
        "/travel/flights",
    ),
    "https://zoom.us": (
        "/j/81234567890",
        "/pricing",
        "/download",
    ),
    "https://www.dropbox.com": (
        "/features/share",
        "/help/share/create-and-share-link",
        "/plans",
    ),
    "https://www.booking.com": (
        "/city/fr/paris.html",
        "/country/jp.html",
        "/hotel/it/hotel-artemide.html",
    ),
    "https://www.airbnb.com": (
        "/s/Lisbon--Portugal/homes",
        "/help/article/2503",
        "/rooms/53092870",
    ),
    "https://www.ikea.com": (
        "/us/en/cat/desks-20649/",
        "/gb/en/p/billy-bookcase-white-00263850/",
        "/de/de/customer-service/",
    ),
    "https://www.nationalgeographic.com": (
        "/animals/mammals/facts/african-elephant",
        "/travel/article/best-trips-2026",
        "/science/article/what-is-a-black-hole",
    ),
    "https://www.imdb.com": (
        "/title/tt0111161/",
        "/chart/top/",
        "/name/nm0000138/",
    ),
    "https://www.coursera.org": (
        "/learn/machine-learning",
        "/specializations/python",
        "/articles/what-is-data-science",
    ),
    "https://www.khanacademy.org": (
        "/math/algebra",
        "/science/biology/photosynthesis-in-plants",
        "/computing/computer-programming",
    ),
    "https://www.w3.org": (
        "/TR/WCAG22/",
        "/TR/webauthn-3/",
        "/standards/",
    ),
    "https://datatracker.ietf.org": (
        "/doc/html/rfc9110",
        "/doc/html/rfc6749",
        "/doc/html/rfc3986#section-3",
    ),
    "https://pypi.org": (
        "/project/requests/",
        "/project/numpy/#history",
        "/help/",
    ),
    "https://www.npmjs.com": (
        "/package/react",
        "/package/typescript",
        "/package/express?activeTab=versions",
    ),
    "https://hub.docker.com": (
        "/_/postgres",
        "/_/python?tab=tags",
    ),
    "https://www.espn.com": (
        "/nba/standings",
        "/soccer/scoreboard",
        "/f1/schedule",
    ),
    "https://www.weather.gov": ("/forecastmaps/", "/safety/heat"),
    "https://www.ted.com": (
        "/talks/sir_ken_robinson_do_schools_kill_creativity",
        "/topics/technology",
    ),
    "https://medium.com": (
        "/@netflixtechblog",
        "/tag/data-science",
    ),
    "https://www.notion.so": ("/help/guides", "/templates/meeting-notes"),
    "https://www.figma.com": ("/community", "/best-practices/components-styles/"),
    "https://slack.com": ("/help/articles/201402297", "/intl/en-gb/pricing"),
    "https://www.paypal.com": ("/us/webapps/mpp/paypal-fees", "/uk/smarthelp/home"),
    "https://www.bankofamerica.com": ("/security-center/faq/", "/mortgage/"),
    "https://www.chase.com": ("/personal/checking", "/digital/resources/privacy"),
    "https://www.netflix.com": ("/browse/genre/83", "/help"),
    "https://www.instagram.com": ("/nasa/", "/natgeo/"),
    "https://x.com": ("/NASA", "/github/status/1800000000000000000"),
    "https://www.facebook.com": ("/help/", "/groups/feed/"),
}

BENIGN_URLS: tuple[str, ...] = tuple(
    host + path for host, paths in _BY_HOST.items() for path in paths
)
"""About two hundred everyday URLs with varied paths."""
