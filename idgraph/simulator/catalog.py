"""Static reference data of the simulated world: places, sites, topics, browsers.

Everything here is fixed (not seeded) so that two worlds differ only in who does what,
never in what exists. Kept as plain tuples so the vectorised code can index them by position.
"""

from __future__ import annotations

import datetime as dt

# (country, weight, cities with weights). Cities include non-ASCII names on purpose:
# geo-IP output is UTF-8 and the ETL must carry it unchanged.
COUNTRIES: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = (
    (
        "US",
        0.34,
        (
            ("New York", 4),
            ("Los Angeles", 3),
            ("Chicago", 2),
            ("Houston", 2),
            ("Phoenix", 1),
            ("Seattle", 1),
        ),
    ),
    ("GB", 0.12, (("London", 5), ("Manchester", 2), ("Birmingham", 2), ("Leeds", 1))),
    ("DE", 0.12, (("Berlin", 3), ("München", 2), ("Hamburg", 2), ("Köln", 1))),
    ("FR", 0.10, (("Paris", 5), ("Lyon", 2), ("Marseille", 2), ("Toulouse", 1))),
    ("ES", 0.08, (("Madrid", 3), ("Barcelona", 3), ("Sevilla", 1), ("Málaga", 1))),
    ("BR", 0.09, (("São Paulo", 4), ("Rio de Janeiro", 3), ("Belo Horizonte", 1))),
    ("CA", 0.08, (("Toronto", 3), ("Montréal", 2), ("Vancouver", 2))),
    ("NL", 0.07, (("Amsterdam", 3), ("Rotterdam", 2), ("Utrecht", 1))),
)
# Hours added to UTC to get local time; people live by their local clock.
UTC_OFFSET_HOURS = {"US": -6, "GB": 0, "DE": 1, "FR": 1, "ES": 1, "BR": -3, "CA": -5, "NL": 1}

TOPICS: tuple[str, ...] = (
    "news",
    "sports",
    "tech",
    "finance",
    "travel",
    "food",
    "fashion",
    "health",
    "autos",
    "gaming",
    "music",
    "movies",
    "home",
    "parenting",
    "science",
    "realestate",
)

# Search/URL vocabulary per topic (ASCII, URL-safe).
TERMS: dict[str, tuple[str, ...]] = {
    "news": (
        "election",
        "senate",
        "climate",
        "protest",
        "budget",
        "court",
        "mayor",
        "strike",
        "summit",
        "inflation",
        "wildfire",
        "border",
        "vote",
        "policy",
    ),
    "sports": (
        "football",
        "basketball",
        "transfer",
        "playoffs",
        "tennis",
        "marathon",
        "olympics",
        "cycling",
        "baseball",
        "hockey",
        "derby",
        "final",
        "coach",
    ),
    "tech": (
        "smartphone",
        "laptop",
        "python",
        "chipset",
        "gpu",
        "startup",
        "cloud",
        "privacy",
        "battery",
        "android",
        "iphone",
        "ai",
        "router",
        "linux",
    ),
    "finance": (
        "mortgage",
        "stocks",
        "etf",
        "crypto",
        "savings",
        "pension",
        "tax",
        "dividend",
        "loan",
        "credit",
        "budgeting",
        "bonds",
        "rates",
    ),
    "travel": (
        "flights",
        "hotel",
        "beach",
        "lisbon",
        "tokyo",
        "camping",
        "cruise",
        "backpacking",
        "visa",
        "roadtrip",
        "island",
        "ski",
        "hostel",
    ),
    "food": (
        "recipe",
        "pasta",
        "vegan",
        "sourdough",
        "curry",
        "bbq",
        "dessert",
        "salad",
        "ramen",
        "tacos",
        "brunch",
        "wine",
        "coffee",
        "cheese",
    ),
    "fashion": (
        "sneakers",
        "dress",
        "jacket",
        "denim",
        "handbag",
        "sale",
        "boots",
        "watch",
        "sunglasses",
        "linen",
        "knitwear",
        "vintage",
    ),
    "health": (
        "yoga",
        "running",
        "sleep",
        "diet",
        "vitamins",
        "allergy",
        "meditation",
        "workout",
        "protein",
        "pilates",
        "flu",
        "backpain",
    ),
    "autos": (
        "ev",
        "hybrid",
        "suv",
        "tyres",
        "charging",
        "sedan",
        "pickup",
        "lease",
        "used-cars",
        "motorbike",
        "insurance",
        "review",
    ),
    "gaming": (
        "console",
        "rpg",
        "esports",
        "speedrun",
        "mods",
        "shooter",
        "indie",
        "strategy",
        "handheld",
        "controller",
        "patch",
        "walkthrough",
    ),
    "music": (
        "concert",
        "vinyl",
        "playlist",
        "guitar",
        "festival",
        "jazz",
        "hiphop",
        "techno",
        "album",
        "lyrics",
        "tour",
        "piano",
    ),
    "movies": (
        "trailer",
        "boxoffice",
        "streaming",
        "horror",
        "comedy",
        "oscars",
        "sequel",
        "documentary",
        "anime",
        "series",
        "premiere",
        "review",
    ),
    "home": (
        "garden",
        "diy",
        "furniture",
        "paint",
        "kitchen",
        "bathroom",
        "plants",
        "lighting",
        "solar",
        "heatpump",
        "decor",
        "tools",
    ),
    "parenting": (
        "toddler",
        "school",
        "stroller",
        "pregnancy",
        "toys",
        "daycare",
        "homework",
        "baby",
        "teen",
        "birthday",
        "nursery",
        "sleep-training",
    ),
    "science": (
        "space",
        "telescope",
        "genetics",
        "physics",
        "climate-science",
        "fossil",
        "quantum",
        "mars",
        "vaccine",
        "ocean",
        "robotics",
        "neuroscience",
    ),
    "realestate": (
        "apartment",
        "rent",
        "condo",
        "listing",
        "mortgage-rates",
        "loft",
        "suburb",
        "renovation",
        "studio",
        "townhouse",
        "open-house",
        "agent",
    ),
}

# Site names by topic: (site_id stem, popularity, has_login). site_id = f"{stem}.example".
_SITE_STEMS: dict[str, tuple[tuple[str, float, bool], ...]] = {
    "news": (
        ("news-daily", 9, True),
        ("world-report", 6, False),
        ("city-herald", 4, True),
        ("morning-post", 5, True),
        ("headline-hub", 3, False),
    ),
    "sports": (
        ("sports-arena", 7, True),
        ("goal-line", 4, False),
        ("fan-zone", 3, True),
        ("score-board", 3, False),
    ),
    "tech": (
        ("tech-radar", 6, True),
        ("gadget-lab", 4, False),
        ("dev-corner", 3, True),
        ("byte-review", 3, False),
    ),
    "finance": (("money-wise", 5, True), ("market-watcher", 4, True), ("savings-club", 2, True)),
    "travel": (("trip-planner", 5, True), ("wander-guide", 3, False), ("hotel-finder", 4, True)),
    "food": (("recipe-box", 6, True), ("kitchen-stories", 3, False), ("foodie-daily", 3, False)),
    "fashion": (("style-shop", 5, True), ("trend-closet", 3, True), ("shoe-outlet", 3, True)),
    "health": (("fit-life", 4, True), ("health-guide", 4, False), ("run-tracker", 2, True)),
    "autos": (("car-compare", 4, False), ("auto-trader", 3, True), ("ev-world", 2, False)),
    "gaming": (("game-spot", 5, True), ("pixel-quest", 3, False), ("esport-live", 2, True)),
    "music": (("tune-stream", 5, True), ("gig-guide", 2, False), ("vinyl-corner", 2, True)),
    "movies": (("film-buzz", 5, False), ("cinema-tickets", 3, True), ("series-fan", 3, False)),
    "home": (("home-makers", 4, True), ("garden-world", 3, False), ("diy-depot", 3, True)),
    "parenting": (("family-life", 3, True), ("kids-corner", 2, False), ("baby-steps", 2, True)),
    "science": (("science-now", 3, False), ("space-daily", 2, False), ("lab-notes", 1, False)),
    "realestate": (("home-finder", 4, True), ("rent-hub", 3, True), ("property-pulse", 2, False)),
}

SITE_IDS: tuple[str, ...] = tuple(
    f"{stem}.example" for topic in TOPICS for stem, _, _ in _SITE_STEMS[topic]
)
SITE_TOPIC: tuple[int, ...] = tuple(i for i, topic in enumerate(TOPICS) for _ in _SITE_STEMS[topic])
SITE_POPULARITY: tuple[float, ...] = tuple(
    pop for topic in TOPICS for _, pop, _ in _SITE_STEMS[topic]
)
SITE_HAS_LOGIN: tuple[bool, ...] = tuple(
    login for topic in TOPICS for _, _, login in _SITE_STEMS[topic]
)

# Cookie value formats; a site keeps one format forever.
COOKIE_FORMATS: tuple[str, ...] = ("uuid", "hex32", "ga", "b64", "num19", "prefixed")

# Device kinds, OS and browser families.
DEVICE_TYPES: tuple[str, ...] = ("phone", "desktop", "tablet")
OSES: tuple[str, ...] = ("iOS", "Android", "Windows", "macOS", "iPadOS")
BROWSERS: tuple[str, ...] = (
    "Chrome",
    "Safari",
    "Firefox",
    "Edge",
    "Samsung Internet",
    "Chrome iOS",
    "Firefox iOS",
)

# Release calendars: (anchor date, major version on that date, days per major).
# Chrome/Edge/Firefox ship a major every 4 weeks; Samsung Internet roughly every 4 months.
RELEASES: dict[str, tuple[dt.date, int, int]] = {
    "Chrome": (dt.date(2024, 1, 23), 121, 28),
    "Edge": (dt.date(2024, 1, 25), 121, 28),
    "Firefox": (dt.date(2024, 1, 23), 122, 28),
    "Samsung Internet": (dt.date(2024, 1, 15), 24, 120),
}
# Safari majors follow the yearly OS release (mid-September); Apple jumped from 18 to 26.
SAFARI_MAJORS: tuple[tuple[dt.date, int], ...] = (
    (dt.date(2022, 9, 12), 16),
    (dt.date(2023, 9, 18), 17),
    (dt.date(2024, 9, 16), 18),
    (dt.date(2025, 9, 15), 26),
    (dt.date(2026, 9, 14), 27),
    (dt.date(2027, 9, 13), 28),
)

ANDROID_MODELS: tuple[str, ...] = ("SM-S918B", "SM-A546B", "SM-G991B", "SM-S911U", "SM-A155F")

SEARCH_REFERRERS: tuple[str, ...] = (
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://t.co/",
    "https://www.facebook.com/",
    "https://www.reddit.com/",
)

FIRST_NAMES: tuple[str, ...] = (
    "alice",
    "bob",
    "carla",
    "david",
    "emma",
    "farid",
    "giulia",
    "hugo",
    "ines",
    "jonas",
    "kim",
    "lena",
    "marco",
    "nina",
    "omar",
    "paula",
    "quentin",
    "rosa",
    "sven",
    "tara",
    "umar",
    "vera",
    "wei",
    "xavier",
    "yara",
    "zoe",
)
LAST_NAMES: tuple[str, ...] = (
    "smith",
    "garcia",
    "muller",
    "martin",
    "rossi",
    "silva",
    "jones",
    "dubois",
    "schmidt",
    "lopez",
    "brown",
    "jansen",
    "kowalski",
    "nguyen",
    "tanaka",
    "olsen",
    "costa",
    "meyer",
)
MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.example",
    "outlook.example",
    "yahoo.example",
    "proton.example",
    "web.example",
)
