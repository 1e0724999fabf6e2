"""Realistic French B2B leads for the demo and the benchmarks (deterministic per seed)."""

from __future__ import annotations

import random

FIRST = [
    "Camille",
    "Julie",
    "Thomas",
    "Nicolas",
    "Sophie",
    "Marie",
    "Antoine",
    "Laura",
    "Pierre",
    "Élodie",
    "Mathieu",
    "Céline",
    "Julien",
    "Aurélie",
    "Romain",
    "Nathalie",
    "Kevin",
    "Sandrine",
    "Alexandre",
    "Émilie",
    "Yasmine",
    "Karim",
    "Léa",
    "Baptiste",
]
LAST = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefebvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Benali",
    "Nguyen",
    "Lambert",
    "Fontaine",
]
# Titles of people who buy payroll software, and of those who do not.
BUYERS = ["DRH", "Responsable RH", "Directrice RH", "Responsable RH et paie", "RRH"]
COLD_TITLES = [
    "Office manager",
    "Comptable",
    "Directeur général",
    "Chargée de communication",
    "Assistante de direction",
    "Responsable achats",
]
STUDENTS = ["Étudiant", "Étudiante en RH", "Alternante RH", "Student"]
INTERNS = ["Stagiaire RH", "Stagiaire paie", "HR intern"]
COMPETITORS = ["payfit.com", "lucca.fr", "silae.fr"]
# Sectors in HubSpot's values; the target ones exist in Salesforce too (SALESFORCE_INDUSTRY).
TARGET_SECTORS = ["CONSTRUCTION", "MANUFACTURING"]
SECTORS = [
    ("CONSTRUCTION", 5),
    ("MANUFACTURING", 5),
    ("INDUSTRIAL_AUTOMATION", 2),
    ("BUILDING_MATERIALS", 2),
    ("RETAIL", 2),
    ("COMPUTER_SOFTWARE", 1),
]
SALESFORCE_INDUSTRY = {"CONSTRUCTION": "Construction", "MANUFACTURING": "Manufacturing"}
COMPANY_A = ["Bâti", "Métal", "Acier", "Béton", "Méca", "Plast", "Élec", "Tôle", "Bois"]
COMPANY_B = ["Ouest", "Rhône", "Alpes", "Loire", "Provence", "Nord", "Atlantique", "Centre"]
COUNTRIES = [("France", 17), ("Belgique", 2), ("Suisse", 1)]


def _weighted(rng: random.Random, options: list[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _person(rng: random.Random, i: int) -> dict[str, str]:
    """A person at a French firm, with an email at the firm's domain."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = f"{rng.choice(COMPANY_A)}{rng.choice(COMPANY_B)} {rng.choice(['SAS', 'SA', 'SARL'])}"
    domain = company.split()[0].lower().translate(str.maketrans("âéèêô", "aeeeo")) + ".fr"
    lead = {
        "email": f"{first.lower()}.{last.lower()}.{i}@{domain}".translate(
            str.maketrans("éèêëàâîïôç", "eeeeaaiioc")
        ),
        "firstname": first,
        "lastname": last,
        "company": company,
        "country": "France",
        "hs_analytics_source": rng.choice(
            ["ORGANIC_SEARCH", "PAID_SEARCH", "OFFLINE", "SOCIAL_MEDIA", "REFERRALS"]
        ),
    }
    if rng.random() < 0.7:
        lead["phone"] = (
            f"+33 {rng.randint(1, 7)} {rng.randint(10, 99)} "
            f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
        )
    return lead


def _ready(rng: random.Random, i: int) -> dict[str, str]:
    """An HR buyer at a 30-500-employee French construction or manufacturing firm: 170
    points of fit or more under the shipped scoring.yaml, sales-ready in both CRMs."""
    return _person(rng, i) | {
        "jobtitle": rng.choice(BUYERS),
        "numberofemployees": str(rng.randint(30, 500)),
        "industry": rng.choice(TARGET_SECTORS),
    }


def make_leads(n: int, seed: int = 7) -> list[dict[str, str]]:
    """Sales-ready leads (HubSpot contact properties): each one is routed to a rep under the
    shipped mappings, as the tests and benchmarks of routing need."""
    rng = random.Random(seed)
    return [_ready(rng, i) for i in range(n)]


def _cold(rng: random.Random, i: int) -> dict[str, str]:
    """A lead below the threshold: not a buyer, or a buyer at a firm out of target."""
    lead = _person(rng, i) | {
        "jobtitle": rng.choice(COLD_TITLES),
        "numberofemployees": str(max(2, int(rng.lognormvariate(4.5, 1.0)))),
        "industry": _weighted(rng, SECTORS),
    }
    if rng.random() < 0.3:  # a buyer, but at a firm too small or out of our sectors
        lead |= {"jobtitle": rng.choice(BUYERS), "industry": rng.choice(["RETAIL", "OTHER"])}
        lead["numberofemployees"] = str(rng.choice([8, 15, 900, 2000]))
    if rng.random() < 0.3:
        lead["pricing_page_views"] = str(rng.randint(1, 2))
    if rng.random() < 0.1:
        lead["hs_email_optout"] = "true"
    return lead


def _hot(rng: random.Random, i: int) -> dict[str, str]:
    """A buyer who also came back to the pricing page and filled forms: hot."""
    return _ready(rng, i) | {
        "pricing_page_views": str(rng.randint(3, 5)),
        "num_conversion_events": str(rng.randint(1, 2)),
    }


def _revealing(rng: random.Random, i: int) -> dict[str, str]:
    """A lead with little fit who asked for a quote or a demo: ready at once (seed 002)."""
    act = rng.choice(["quote_requested", "demo_requested"])
    return _cold(rng, i) | {act: "true"}


def _student(rng: random.Random, i: int) -> dict[str, str]:
    return _ready(rng, i) | {"jobtitle": rng.choice(STUDENTS)}


def _intern(rng: random.Random, i: int) -> dict[str, str]:
    return _ready(rng, i) | {"jobtitle": rng.choice(INTERNS)}


def _competitor(rng: random.Random, i: int) -> dict[str, str]:
    lead = _ready(rng, i)
    return lead | {"email": lead["email"].split("@")[0] + "@" + rng.choice(COMPETITORS)}


def _no_email(rng: random.Random, i: int) -> dict[str, str]:
    lead = _ready(rng, i)  # a good profile, but nobody can reach them
    if rng.random() < 0.5:
        del lead["email"]
    else:
        lead["email"] = lead["email"].split("@")[0] + "@"  # a typo in the form
    return lead


# Twenty marketing leads, in proportions like seed 000's: 3 sales-ready of 20 (15%), one of
# them through a revealing act; the others nurtured, disqualified or incomplete.
MIX = [_hot, _ready, _revealing, _student, _intern, _competitor, _no_email, _no_email]
MIX += [_cold] * (20 - len(MIX))


def marketing_leads(n: int, seed: int = 7) -> list[dict[str, str]]:
    """Leads as marketing gets them (HubSpot contact properties), for the demo: each block
    of twenty holds MIX in a shuffled order."""
    rng = random.Random(seed)
    out: list[dict[str, str]] = []
    while len(out) < n:
        block = MIX.copy()
        rng.shuffle(block)
        out += [make(rng, len(out) + k) for k, make in enumerate(block)]
    return out[:n]
