"""Hand-written brand facts the datasets cannot supply.

Two tables, reviewed by hand against the brands the phishing feeds name most:

:data:`ALIASES`
    Maps a target-brand string as the feeds write it (case-folded) to a brand
    key, for names that do not reduce to a good key on their own (Japanese
    names, corporate suffixes, several spellings of one brand).
:data:`BRANDS`
    Maps a brand key to its display name, the registrable domains it owns that
    the popular-domain lists do not reveal (the domain does not contain the
    name, or it is not popular enough to be listed), its search tokens and its
    whole-label-only names. Keys absent here get their name from the feeds, the
    key as their token, and domains from the popular-domain lists only.

Feed names that map to ``None`` are not brands (``Other``) or are too generic
to match on (``WebMail``) and are skipped.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ALIASES", "BRANDS", "NOT_OWNED", "BrandFacts"]


class BrandFacts(NamedTuple):
    """Hand-written facts about one brand."""

    name: str
    domains: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


ALIASES: dict[str, str | None] = {
    # not brands, or names too generic to match on
    "other": None,
    "special": None,
    "webmail": None,
    "live": None,
    "ete": None,
    "ioc": None,
    "dti": None,
    "id": None,
    "mylink": None,
    "my ts3": "tscubic",
    "ts cubic card_my ts3": "tscubic",
    "ts cubic card": "tscubic",
    # PhishTank spellings
    "ebay, inc.": "ebay",
    "amazon.com": "amazon",
    "apple id": "apple",
    "jpmorgan chase and co.": "chase",
    "her majesty's revenue and customs": "hmrc",
    "internal revenue service": "irs",
    "bank of america corporation": "bankofamerica",
    "development bank of singapore": "dbs",
    "dbs bank": "dbs",
    "hsbc group": "hsbc",
    "banco santander, s.a.": "santander",
    "santander uk": "santander",
    "banco de brasil": "bancodobrasil",
    "telefónica uk": "o2",
    "pko polish bank": "pkobp",
    "sumitomo mitsui banking corporation": "smbc",
    "三井住友銀行": "smbc",
    "at&amp;t": "att",
    "at&t": "att",
    "alibaba.com": "alibaba",
    "united services automobile association": "usaa",
    "united parcel service inc.": "ups",
    "barclays bank plc": "barclays",
    "natwest bank": "natwest",
    "british telecom": "bt",
    "citibank": "citi",
    "lloyds bank": "lloyds",
    "absa bank": "absa",
    "capitec bank": "capitec",
    "ing direct": "ing",
    "rbc royal bank": "rbc",
    "royal bank of canada": "rbc",
    "yahoo! japan": "yahoojapan",
    "yahoo!": "yahoo",
    "outlook web app": "microsoft",
    "outlook.com": "microsoft",
    "office365": "microsoft",
    "onedrive": "microsoft",
    "sharepoint": "microsoft",
    "hotmail": "microsoft",
    "nhkプラス": "nhk",
    "suncorp bank": "suncorp",
    "dpdgroup": "dpd",
    "sulake corporation": "habbo",
    "three": "three",
    "mastercard": "mastercard",
    "visa": "visa",
    "commonwealth bank": "commbank",
    "navy federal credit union": "navyfederal",
    "china citic bank": "citicbank",
    "china construction bank": "ccb",
    "bdo unibank": "bdo",
    "club j-west": "jwest",
    "square enix": "squareenix",
    "monster strike": "monsterstrike",
    "td bank": "td",
    "m&t bank": "mtb",
    "tv licensing": "tvlicensing",
    "canada revenue agency": "cra",
    "australian government": "mygov",
    "australia post": "auspost",
    "swiss post": "swisspost",
    "royal mail": "royalmail",
    "idaho central credit union": "iccu",
    "trust wallet": "trustwallet",
    "gov.uk": "govuk",
    "j:com": "jcom",
    "@nifty": "nifty",
    "so-net": "sonet",
    "life card": "lifecard",
    "uc card": "uccard",
    "saison card": "saisoncard",
    # Japanese names (JPCERT)
    "三井住友カード": "smbccard",
    "vpass": "smbccard",
    "au": "au",
    "kddi": "au",
    "えきねっと": "ekinet",
    "三菱ufjニコス": "mufgcard",
    "楽天": "rakuten",
    "楽天カード": "rakuten",
    "楽天銀行": "rakuten",
    "ラクマ": "rakuten",
    "メルカリ": "mercari",
    "etc利用照会サービス": "etc",
    "エポスカード": "eposcard",
    "イオンカード": "aeon",
    "イオン銀行": "aeon",
    "softbank": "softbank",
    "ヤマト運輸": "yamato",
    "総務省": "soumu",
    "国税庁": "nta",
    "ntt docomo": "docomo",
    "viewcard": "viewcard",
    "ヨドバシカメラ": "yodobashi",
    "アプラス": "aplus",
    "三越伊勢丹": "mistore",
    "三井住友信託銀行": "smtb",
    "日本郵便": "japanpost",
    "ゆうちょ銀行": "jpbank",
    "paypay銀行": "paypay",
    "ぷらら": "plala",
    "ポケットカード": "pocketcard",
    "横浜銀行": "boy",
    "モバイルsuica": "suica",
    "じぶん銀行": "jibunbank",
    "みずほ銀行": "mizuho",
    "日本銀行": "boj",
    "日本年金機構": "nenkin",
    "三菱ufj銀行": "mufg",
    "三菱ufjフィナンシャルグループ": "mufg",
    "ビックカメラ": "biccamera",
    "厚生労働省": "mhlw",
    "ソニー銀行": "sonybank",
    "りそな銀行": "resona",
    "りそなカード": "resona",
    "埼玉りそな銀行": "resona",
    "gmoあおぞらネット銀行": "gmoaozora",
    "ジャパンネット銀行": "paypay",
    "asahiネット": "asahinet",
    "エックスサーバー株式会社": "xserver",
    "ucsカード": "ucscard",
    "さくらインターネット": "sakura",
    "大和ネクスト銀行": "bankdaiwa",
    "smbc ファイナンスサービス": "smbcfs",
    "千葉銀行": "chibabank",
    "gmoコイン": "gmocoin",
    "新生銀行": "shinseibank",
    "三井住友トラストクラブ": "diners",
    "jaバンク": "jabank",
    "税関": "customs",
    "静岡銀行": "shizuokabank",
    "東京都水道局": "tokyowater",
    "住信sbiネット銀行": "netbk",
    "ビットポイントジャパン": "bitpoint",
    "sbj銀行": "sbjbank",
    "秋田銀行": "akitabank",
    "セブン銀行": "sevenbank",
    "福岡銀行": "fukuokabank",
    "西日本シティ銀行": "ncbank",
    "東京ガス": "tokyogas",
    "関西電力": "kepco",
    "沖縄電力": "okiden",
    "琉球銀行": "ryugin",
    "みなと銀行": "minatobk",
}

BRANDS: dict[str, BrandFacts] = {
    "paypal": BrandFacts("PayPal", ("paypal.com", "paypal.me", "paypalobjects.com")),
    "ebay": BrandFacts("eBay", ("ebay.com", "ebay.co.uk", "ebay.de", "ebay.co.jp")),
    "amazon": BrandFacts(
        "Amazon",
        (
            "amazon.com",
            "amazon.co.jp",
            "amazon.co.uk",
            "amazon.de",
            "amazon.fr",
            "amazon.ca",
            "amazon.in",
            "amazon.it",
            "amazon.es",
            "amazonaws.com",
            "amazon.com.br",
            "amazon.com.au",
            "amzn.to",
            "media-amazon.com",
        ),
        ("amazon", "amzn"),
    ),
    "apple": BrandFacts(
        "Apple", ("apple.com", "icloud.com", "apple.co", "me.com"), ("apple", "icloud")
    ),
    "microsoft": BrandFacts(
        "Microsoft",
        (
            "microsoft.com",
            "live.com",
            "outlook.com",
            "office.com",
            "office365.com",
            "microsoftonline.com",
            "hotmail.com",
            "sharepoint.com",
            "onedrive.com",
            "msn.com",
            "windows.net",
            "azure.com",
            "bing.com",
            "skype.com",
        ),
        (
            "microsoft",
            "office365",
            "outlook",
            "onedrive",
            "sharepoint",
            "hotmail",
            "microsoftonline",
        ),
    ),
    "facebook": BrandFacts(
        "Facebook",
        ("facebook.com", "fb.com", "fbcdn.net", "fb.me", "meta.com"),
        ("facebook",),
        ("fb",),
    ),
    "google": BrandFacts(
        "Google",
        (
            "google.com",
            "gmail.com",
            "googleusercontent.com",
            "gstatic.com",
            "googleapis.com",
            "youtube.com",
            "google.co.jp",
            "google.co.uk",
            "goo.gl",
            "blogger.com",
            "withgoogle.com",
        ),
        ("google", "gmail"),
    ),
    "chase": BrandFacts(
        "JPMorgan Chase",
        ("chase.com", "jpmorgan.com", "jpmorganchase.com"),
        ("jpmorgan",),
        ("chase",),
    ),
    "bankofamerica": BrandFacts("Bank of America", ("bankofamerica.com", "bofa.com")),
    "irs": BrandFacts("Internal Revenue Service", ("irs.gov",), (), ("irs",)),
    "hmrc": BrandFacts("HM Revenue and Customs", ("gov.uk",), ("hmrc",)),
    "govuk": BrandFacts("GOV.UK", ("gov.uk",), (), ("govuk",)),
    "wellsfargo": BrandFacts("Wells Fargo", ("wellsfargo.com", "wf.com")),
    "americanexpress": BrandFacts(
        "American Express",
        ("americanexpress.com", "aexp.com", "amex.co.jp"),
        ("americanexpress",),
        ("amex",),
    ),
    "dbs": BrandFacts("DBS Bank", ("dbs.com", "dbs.com.sg"), (), ("dbs",)),
    "hsbc": BrandFacts("HSBC", ("hsbc.com", "hsbc.co.uk", "hsbc.com.hk")),
    "santander": BrandFacts(
        "Santander", ("santander.com", "santander.co.uk", "santander.com.br")
    ),
    "bancodobrasil": BrandFacts("Banco do Brasil", ("bb.com.br",), ("bancodobrasil",)),
    "o2": BrandFacts("O2 (Telefónica UK)", ("o2.co.uk",), (), ("o2",)),
    "three": BrandFacts("Three", ("three.co.uk", "three.ie"), (), ("three",)),
    "orange": BrandFacts("Orange", ("orange.fr", "orange.com"), (), ("orange",)),
    "steam": BrandFacts(
        "Steam",
        ("steampowered.com", "steamcommunity.com", "steamstatic.com"),
        ("steampowered", "steamcommunity"),
        ("steam",),
    ),
    "runescape": BrandFacts("RuneScape", ("runescape.com", "jagex.com")),
    "lloyds": BrandFacts(
        "Lloyds Bank", ("lloydsbank.com", "lloydsbank.co.uk"), ("lloydsbank", "lloyds")
    ),
    "pkobp": BrandFacts("PKO Bank Polski", ("pkobp.pl", "ipko.pl"), ("pkobp", "ipko")),
    "caixa": BrandFacts("Caixa", ("caixa.gov.br",)),
    "allegro": BrandFacts("Allegro", ("allegro.pl",)),
    "blockchain": BrandFacts(
        "Blockchain.com", ("blockchain.com",), (), ("blockchain",)
    ),
    "ing": BrandFacts("ING", ("ing.com", "ing.nl", "ing.de", "ing.es"), (), ("ing",)),
    "dhl": BrandFacts("DHL", ("dhl.com", "dhl.de"), (), ("dhl",)),
    "halifax": BrandFacts(
        "Halifax", ("halifax.co.uk", "halifax-online.co.uk"), (), ("halifax",)
    ),
    "capitec": BrandFacts("Capitec Bank", ("capitecbank.co.za",)),
    "absa": BrandFacts("Absa", ("absa.co.za", "absa.africa")),
    "ee": BrandFacts("EE", ("ee.co.uk",), (), ("ee",)),
    "posteitaliane": BrandFacts("Poste Italiane", ("poste.it", "posteitaliane.it")),
    "aol": BrandFacts("AOL", ("aol.com",), (), ("aol",)),
    "visa": BrandFacts("Visa", ("visa.com", "visa.co.jp"), (), ("visa",)),
    "itau": BrandFacts("Itaú", ("itau.com.br",)),
    "bradesco": BrandFacts("Bradesco", ("bradesco.com.br",)),
    "att": BrandFacts("AT&T", ("att.com", "att.net"), (), ("att",)),
    "usaa": BrandFacts("USAA", ("usaa.com",), (), ("usaa",)),
    "ups": BrandFacts("UPS", ("ups.com",), (), ("ups",)),
    "bt": BrandFacts("BT", ("bt.com",), (), ("bt",)),
    "citi": BrandFacts(
        "Citibank", ("citi.com", "citibank.com"), ("citibank",), ("citi",)
    ),
    "rbc": BrandFacts(
        "RBC Royal Bank", ("rbc.com", "rbcroyalbank.com"), ("rbcroyalbank",), ("rbc",)
    ),
    "td": BrandFacts("TD Bank", ("td.com", "tdbank.com"), ("tdbank",)),
    "mtb": BrandFacts("M&T Bank", ("mtb.com",), (), ("mtb",)),
    "cibc": BrandFacts("CIBC", ("cibc.com",), (), ("cibc",)),
    "bdo": BrandFacts("BDO Unibank", ("bdo.com.ph",), (), ("bdo",)),
    "ccb": BrandFacts("China Construction Bank", ("ccb.com",), (), ("ccb",)),
    "citicbank": BrandFacts("China CITIC Bank", ("citicbank.com",)),
    "commbank": BrandFacts("Commonwealth Bank", ("commbank.com.au",)),
    "navyfederal": BrandFacts("Navy Federal Credit Union", ("navyfederal.org",)),
    "jwest": BrandFacts("Club J-WEST", ("jr-odekake.net",), (), ("jwest",)),
    "squareenix": BrandFacts(
        "Square Enix", ("square-enix.com", "square-enix.co.jp", "finalfantasyxiv.com")
    ),
    "monsterstrike": BrandFacts("Monster Strike", ("monster-strike.com",)),
    "tvlicensing": BrandFacts("TV Licensing", ("tvlicensing.co.uk",)),
    "cra": BrandFacts("Canada Revenue Agency", ("canada.ca",), (), ("cra",)),
    "mygov": BrandFacts(
        "Australian Government (myGov)", ("my.gov.au", "gov.au"), (), ("mygov",)
    ),
    "auspost": BrandFacts("Australia Post", ("auspost.com.au",)),
    "swisspost": BrandFacts("Swiss Post", ("post.ch", "swisspost.ch")),
    "royalmail": BrandFacts("Royal Mail", ("royalmail.com",)),
    "iccu": BrandFacts("Idaho Central Credit Union", ("iccu.com",), (), ("iccu",)),
    "trustwallet": BrandFacts("Trust Wallet", ("trustwallet.com",)),
    "habbo": BrandFacts("Habbo (Sulake)", ("habbo.com", "sulake.com")),
    "dpd": BrandFacts("DPD", ("dpd.com", "dpd.co.uk", "dpdgroup.com"), (), ("dpd",)),
    "netflix": BrandFacts("Netflix", ("netflix.com", "nflxext.com", "nflximg.net")),
    "instagram": BrandFacts("Instagram", ("instagram.com", "cdninstagram.com")),
    "linkedin": BrandFacts("LinkedIn", ("linkedin.com", "licdn.com", "lnkd.in")),
    "twitter": BrandFacts("Twitter / X", ("twitter.com", "x.com", "t.co", "twimg.com")),
    "yahoo": BrandFacts("Yahoo", ("yahoo.com", "yahoo.co.uk", "yimg.com")),
    "dropbox": BrandFacts(
        "Dropbox", ("dropbox.com", "dropboxusercontent.com", "db.tt")
    ),
    "docusign": BrandFacts("DocuSign", ("docusign.com", "docusign.net")),
    "adobe": BrandFacts("Adobe", ("adobe.com", "adobelogin.com", "typekit.net")),
    "meta": BrandFacts("Meta", ("meta.com", "facebook.com"), (), ("meta",)),
    "uber": BrandFacts("Uber", ("uber.com",), (), ("uber",)),
    "line": BrandFacts("LINE", ("line.me", "line-apps.com", "naver.jp"), (), ("line",)),
    "ana": BrandFacts("ANA", ("ana.co.jp",), (), ("ana",)),
    "jal": BrandFacts("JAL", ("jal.co.jp", "jal.com"), (), ("jal",)),
    "jcb": BrandFacts("JCB", ("jcb.co.jp", "jcb.jp", "jcbcard.com"), (), ("jcb",)),
    "nhk": BrandFacts("NHK", ("nhk.or.jp", "nhk.jp"), (), ("nhk",)),
    # Japanese brands
    "smbccard": BrandFacts(
        "Sumitomo Mitsui Card (三井住友カード)",
        ("smbc-card.com", "vpass.ne.jp"),
        ("smbc-card", "vpass", "smbccard"),
    ),
    "smbc": BrandFacts(
        "Sumitomo Mitsui Banking Corporation", ("smbc.co.jp",), (), ("smbc",)
    ),
    "smbcfs": BrandFacts("SMBC Finance Service", ("smbc-fs.co.jp",), ("smbc-fs",)),
    "au": BrandFacts(
        "au (KDDI)", ("au.com", "kddi.com", "auone.jp", "au.co.jp"), ("kddi", "auone")
    ),
    "saisoncard": BrandFacts(
        "Saison Card", ("saisoncard.co.jp", "saison.co.jp"), ("saisoncard", "saison")
    ),
    "ekinet": BrandFacts(
        "えきねっと (JR East)", ("eki-net.com", "jreast.co.jp"), ("eki-net", "ekinet")
    ),
    "mufgcard": BrandFacts(
        "MUFG NICOS (三菱UFJニコス)",
        ("cr.mufg.jp", "mufg.jp", "nicos.co.jp"),
        ("nicos", "mufgcard"),
    ),
    "mufg": BrandFacts(
        "MUFG Bank (三菱UFJ銀行)", ("mufg.jp", "bk.mufg.jp"), (), ("mufg",)
    ),
    "rakuten": BrandFacts(
        "Rakuten (楽天)",
        (
            "rakuten.co.jp",
            "rakuten-card.co.jp",
            "rakuten.com",
            "rakuten-bank.co.jp",
            "fril.jp",
        ),
        ("rakuten",),
    ),
    "mercari": BrandFacts("Mercari (メルカリ)", ("mercari.com", "merpay.com")),
    "etc": BrandFacts("ETC利用照会サービス", ("etc-meisai.jp",), ("etc-meisai",)),
    "eposcard": BrandFacts("Epos Card (エポスカード)", ("eposcard.co.jp",)),
    "aeon": BrandFacts(
        "AEON (イオン)", ("aeon.co.jp", "aeonbank.co.jp", "aeon.com"), ("aeon",)
    ),
    "softbank": BrandFacts("SoftBank", ("softbank.jp", "softbank.co.jp")),
    "yamato": BrandFacts(
        "Yamato Transport (ヤマト運輸)",
        ("kuronekoyamato.co.jp", "yamato-hd.co.jp"),
        ("kuronekoyamato", "kuroneko"),
    ),
    "soumu": BrandFacts(
        "Ministry of Internal Affairs (総務省)", ("soumu.go.jp",), ("soumu",)
    ),
    "nta": BrandFacts("National Tax Agency (国税庁)", ("nta.go.jp",), (), ("nta",)),
    "micard": BrandFacts("MICARD", ("micard.co.jp",)),
    "docomo": BrandFacts(
        "NTT docomo", ("docomo.ne.jp", "nttdocomo.co.jp", "smt.docomo.ne.jp")
    ),
    "viewcard": BrandFacts(
        "View Card", ("viewsnet.jp", "jreast.co.jp"), ("viewcard", "viewsnet")
    ),
    "tscubic": BrandFacts("TS CUBIC CARD", ("tscubic.com",)),
    "biglobe": BrandFacts("BIGLOBE", ("biglobe.ne.jp", "biglobe.co.jp")),
    "yodobashi": BrandFacts("Yodobashi Camera (ヨドバシカメラ)", ("yodobashi.com",)),
    "aplus": BrandFacts("APLUS (アプラス)", ("aplus.co.jp",), (), ("aplus",)),
    "mistore": BrandFacts(
        "Mitsukoshi Isetan (三越伊勢丹)",
        ("mistore.jp", "isetan.mistore.jp", "imhds.co.jp"),
        ("mistore", "isetan", "mitsukoshi"),
    ),
    "smtb": BrandFacts(
        "Sumitomo Mitsui Trust Bank (三井住友信託銀行)", ("smtb.jp",), (), ("smtb",)
    ),
    "japanpost": BrandFacts(
        "Japan Post (日本郵便)", ("japanpost.jp", "post.japanpost.jp"), ("japanpost",)
    ),
    "jpbank": BrandFacts(
        "Japan Post Bank (ゆうちょ銀行)",
        ("jp-bank.japanpost.jp", "japanpost.jp"),
        ("jp-bank", "yucho"),
    ),
    "jaccs": BrandFacts("JACCS", ("jaccs.co.jp",)),
    "paypay": BrandFacts(
        "PayPay", ("paypay.ne.jp", "paypay-bank.co.jp", "japannetbank.co.jp")
    ),
    "orico": BrandFacts("Orico", ("orico.co.jp",)),
    "plala": BrandFacts("Plala (ぷらら)", ("plala.or.jp",)),
    "pocketcard": BrandFacts("Pocket Card", ("pocketcard.co.jp",)),
    "tepco": BrandFacts("TEPCO", ("tepco.co.jp",)),
    "boy": BrandFacts("Bank of Yokohama (横浜銀行)", ("boy.co.jp",), (), ("boy",)),
    "suica": BrandFacts("Mobile Suica", ("jreast.co.jp",), ("suica",)),
    "jibunbank": BrandFacts("au Jibun Bank (じぶん銀行)", ("jibunbank.co.jp",)),
    "mizuho": BrandFacts(
        "Mizuho Bank (みずほ銀行)", ("mizuhobank.co.jp", "mizuho-fg.co.jp"), ("mizuho",)
    ),
    "boj": BrandFacts("Bank of Japan (日本銀行)", ("boj.or.jp",), (), ("boj",)),
    "nenkin": BrandFacts("Japan Pension Service (日本年金機構)", ("nenkin.go.jp",)),
    "biccamera": BrandFacts(
        "Bic Camera (ビックカメラ)", ("biccamera.com", "biccamera.co.jp")
    ),
    "mhlw": BrandFacts(
        "Ministry of Health, Labour and Welfare (厚生労働省)", ("mhlw.go.jp",)
    ),
    "sonybank": BrandFacts("Sony Bank (ソニー銀行)", ("sonybank.net",)),
    "resona": BrandFacts(
        "Resona (りそな)", ("resonabank.co.jp", "resona-gr.co.jp"), ("resona",)
    ),
    "gmoaozora": BrandFacts(
        "GMO Aozora Net Bank", ("gmo-aozora.com",), ("gmo-aozora",)
    ),
    "asahinet": BrandFacts("ASAHI Net", ("asahi-net.or.jp",), ("asahi-net",)),
    "xserver": BrandFacts(
        "XServer (エックスサーバー)", ("xserver.ne.jp", "xserver.jp")
    ),
    "ucscard": BrandFacts("UCS Card", ("ucscard.co.jp",)),
    "uccard": BrandFacts("UC Card", ("uccard.co.jp",)),
    "sakura": BrandFacts(
        "Sakura Internet", ("sakura.ad.jp", "sakura.ne.jp"), (), ("sakura",)
    ),
    "bankdaiwa": BrandFacts("Daiwa Next Bank", ("bank-daiwa.co.jp",)),
    "chibabank": BrandFacts("Chiba Bank (千葉銀行)", ("chibabank.co.jp",)),
    "gmocoin": BrandFacts("GMO Coin", ("coin.z.com",), ("gmocoin",)),
    "shinseibank": BrandFacts("Shinsei Bank (新生銀行)", ("shinseibank.com",)),
    "diners": BrandFacts(
        "Diners Club (三井住友トラストクラブ)",
        ("diners.co.jp", "sumitclub.jp"),
        ("diners",),
    ),
    "jabank": BrandFacts("JA Bank", ("jabank.org",)),
    "customs": BrandFacts("Japan Customs (税関)", ("customs.go.jp",), (), ("customs",)),
    "shizuokabank": BrandFacts("Shizuoka Bank (静岡銀行)", ("shizuokabank.co.jp",)),
    "tokyowater": BrandFacts(
        "Tokyo Waterworks (東京都水道局)",
        ("waterworks.metro.tokyo.lg.jp",),
        ("tokyowater",),
    ),
    "netbk": BrandFacts("SBI Sumishin Net Bank", ("netbk.co.jp",)),
    "bitpoint": BrandFacts("BITPoint Japan", ("bitpoint.co.jp",)),
    "sbjbank": BrandFacts("SBJ Bank", ("sbjbank.co.jp",)),
    "akitabank": BrandFacts(
        "Akita Bank (秋田銀行)", ("akita-bank.co.jp",), ("akita-bank", "akitabank")
    ),
    "sevenbank": BrandFacts("Seven Bank (セブン銀行)", ("sevenbank.co.jp",)),
    "fukuokabank": BrandFacts("Bank of Fukuoka (福岡銀行)", ("fukuokabank.co.jp",)),
    "ncbank": BrandFacts("Nishi-Nippon City Bank", ("ncbank.co.jp",)),
    "tokyogas": BrandFacts(
        "Tokyo Gas (東京ガス)", ("tokyo-gas.co.jp",), ("tokyo-gas", "tokyogas")
    ),
    "kepco": BrandFacts("Kansai Electric Power (関西電力)", ("kepco.co.jp",)),
    "okiden": BrandFacts("Okinawa Electric Power (沖縄電力)", ("okiden.co.jp",)),
    "ryugin": BrandFacts("Bank of the Ryukyus (琉球銀行)", ("ryugin.co.jp",)),
    "minatobk": BrandFacts("Minato Bank (みなと銀行)", ("minatobk.co.jp",)),
    "sonet": BrandFacts("So-net", ("so-net.ne.jp",), ("so-net",)),
    "lifecard": BrandFacts("LIFE CARD", ("lifecard.co.jp",)),
    "jcom": BrandFacts("J:COM", ("jcom.co.jp", "zaq.ne.jp"), (), ("jcom",)),
    "ocn": BrandFacts("OCN", ("ocn.ne.jp", "ocn.jp"), (), ("ocn",)),
    "goo": BrandFacts("goo", ("goo.ne.jp",), (), ("goo",)),
    "dmm": BrandFacts("DMM", ("dmm.com", "dmm.co.jp"), (), ("dmm",)),
    "bitflyer": BrandFacts("bitFlyer", ("bitflyer.com", "bitflyer.jp")),
    "telegram": BrandFacts("Telegram", ("telegram.org", "t.me", "telegram.me")),
    "myetherwallet": BrandFacts("MyEtherWallet", ("myetherwallet.com",)),
    "metamask": BrandFacts("MetaMask", ("metamask.io",)),
    "coinbase": BrandFacts("Coinbase", ("coinbase.com",)),
    "binance": BrandFacts("Binance", ("binance.com",)),
    "square": BrandFacts(
        "Square", ("squareup.com", "square.com"), ("squareup",), ("square",)
    ),
    "mastercard": BrandFacts("Mastercard", ("mastercard.com", "mastercard.co.jp")),
    "fedex": BrandFacts("FedEx", ("fedex.com",)),
    "usps": BrandFacts("USPS", ("usps.com",)),
    "wetransfer": BrandFacts("WeTransfer", ("wetransfer.com", "we.tl")),
    "desjardins": BrandFacts("Desjardins", ("desjardins.com",)),
    "bnpparibas": BrandFacts(
        "BNP Paribas", ("bnpparibas.com", "bnpparibas.fr", "mabanque.bnpparibas")
    ),
    "interac": BrandFacts("Interac", ("interac.ca",), (), ("interac",)),
    "nickel": BrandFacts("Nickel", ("nickel.eu",), (), ("nickel",)),
    "thermos": BrandFacts("Thermos", ("thermos.com", "thermos.jp"), (), ("thermos",)),
    "regions": BrandFacts("Regions Bank", ("regions.com",), (), ("regions",)),
    "avis": BrandFacts("Avis", ("avis.com",), (), ("avis",)),
    "nifty": BrandFacts("@nifty", ("nifty.com",), (), ("nifty",)),
    "workday": BrandFacts(
        "Workday", ("workday.com", "myworkday.com"), (), ("workday",)
    ),
}

#: Popular-list domains reviewed as not owned by the brand they name (another
#: company, a fan site, or a phishing domain that made a popularity list).
NOT_OWNED: frozenset[str] = frozenset(
    {
        "aeon.co",
        "alibaba.ir",
        "allegromedical.com",
        "aplus.net",
        "bdo.com",
        "bdo.global",
        "bpi.ir",
        "bt.cn",
        "bt.co",
        "bt.dk",
        "bt.no",
        "ccb.org.co",
        "coincheckup.com",
        "cra.cz",
        "customs.gov.cn",
        "goo.gl",
        "goo.su",
        "goo.to",
        "instagrammernews.com",
        "meta.me",
        "meta.ua",
        "meta.vn",
        "mygov.in",
        "mygov.tw",
        "nickelinstitute.org",
        "nta.co.jp",
        "outlookindia.com",
        "rbc.mw",
        "rbc.ru",
        "rbc.ua",
        "resonate.com",
        "sakura.fm",
        "shizuokabank-opinion.jp",
        "telegram.com",
        "telegrammhs.org",
        "thermostatsolutions.com",
        "twittervideodownloader.com",
        "ups.edu.ec",
    }
)
