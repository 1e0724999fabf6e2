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
TITLES = [
    ("DRH", 6),
    ("Responsable RH", 6),
    ("Responsable paie", 4),
    ("Directeur administratif et financier", 3),
    ("Chargée de recrutement", 2),
    ("Office manager", 2),
    ("Stagiaire RH", 1),
    ("Directeur général", 2),
    ("Étudiant", 1),
    ("Responsable des ressources humaines", 3),
]
SECTORS = [
    ("CONSTRUCTION", 5),
    ("MANUFACTURING", 5),
    ("INDUSTRIAL_AUTOMATION", 2),
    ("BUILDING_MATERIALS", 2),
    ("RETAIL", 2),
    ("EDUCATION_MANAGEMENT", 1),
    ("COMPUTER_SOFTWARE", 1),
    ("HOSPITAL_HEALTH_CARE", 1),
]
COMPANY_A = ["Bâti", "Métal", "Acier", "Béton", "Méca", "Plast", "Élec", "Tôle", "Bois"]
COMPANY_B = ["Ouest", "Rhône", "Alpes", "Loire", "Provence", "Nord", "Atlantique", "Centre"]
COUNTRIES = [("France", 17), ("Belgique", 2), ("Suisse", 1)]


def _weighted(rng: random.Random, options: list[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def make_leads(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    leads = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = (
            f"{rng.choice(COMPANY_A)}{rng.choice(COMPANY_B)} {rng.choice(['SAS', 'SA', 'SARL'])}"
        )
        domain = company.split()[0].lower().translate(str.maketrans("âéèêô", "aeeeo")) + ".fr"
        size = int(rng.lognormvariate(4.5, 1.0))
        lead = {
            "email": f"{first.lower()}.{last.lower()}.{i}@{domain}".translate(
                str.maketrans("éèêëàâîïôç", "eeeeaaiioc")
            ),
            "firstname": first,
            "lastname": last,
            "jobtitle": _weighted(rng, TITLES),
            "company": company,
            "numberofemployees": str(max(size, 2)),
            "industry": _weighted(rng, SECTORS),
            "country": _weighted(rng, COUNTRIES),
            "hs_analytics_source": rng.choice(
                ["ORGANIC_SEARCH", "PAID_SEARCH", "OFFLINE", "SOCIAL_MEDIA", "REFERRALS"]
            ),
        }
        if rng.random() < 0.7:
            lead["phone"] = (
                f"+33 {rng.randint(1, 7)} {rng.randint(10, 99)} "
                f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
            )
        leads.append(lead)
    return leads
