"""A starter pharmacy directory: plausible but fictional pharmacies (names, addresses, NCPDP
ids and 555-01xx phone numbers are made up) in TX, NY, CA and FL, and one mail-order pharmacy
that ships to every state. Idempotent: existing rows (matched by NCPDP id) are left as admins
may have edited them."""

from dataclasses import asdict

from django.db import transaction

from carepath.pharmacy.actions import PharmacyData
from carepath.pharmacy.models import Pharmacy

STARTER_PHARMACIES: tuple[PharmacyData, ...] = (
    PharmacyData(
        "4400118",
        "Bluebonnet Pharmacy",
        "1204 Bluebonnet Lane",
        "Austin",
        "TX",
        "78704",
        "512-555-0142",
    ),
    PharmacyData(
        "4400126",
        "Live Oak Drug",
        "88 Live Oak Plaza",
        "Houston",
        "TX",
        "77002",
        "713-555-0117",
        open_24_hours=True,
    ),
    PharmacyData(
        "4400134",
        "Pecan Street Apothecary",
        "310 Pecan Street",
        "Austin",
        "TX",
        "78701",
        "512-555-0188",
        accepts_controlled=False,
    ),
    PharmacyData(
        "4400142",
        "Trinity River Pharmacy",
        "2750 Levee Road",
        "Dallas",
        "TX",
        "75201",
        "214-555-0163",
    ),
    PharmacyData(
        "3300115",
        "Hudson Corner Pharmacy",
        "41 Harbor Street",
        "New York",
        "NY",
        "10013",
        "212-555-0136",
    ),
    PharmacyData(
        "3300123",
        "Empire Park Drugs",
        "507 Parkside Avenue",
        "Brooklyn",
        "NY",
        "11201",
        "718-555-0190",
        open_24_hours=True,
    ),
    PharmacyData(
        "3300131",
        "Finger Lakes Pharmacy",
        "19 Canal Street",
        "Rochester",
        "NY",
        "14604",
        "585-555-0121",
    ),
    PharmacyData(
        "0500117",
        "Golden Poppy Pharmacy",
        "900 Poppy Court",
        "Los Angeles",
        "CA",
        "90012",
        "213-555-0155",
    ),
    PharmacyData(
        "0500125",
        "Bayview Apothecary",
        "66 Fogline Way",
        "San Francisco",
        "CA",
        "94103",
        "415-555-0174",
    ),
    PharmacyData(
        "0500133",
        "Sierra Vista Drug",
        "1420 Capitol Mall Road",
        "Sacramento",
        "CA",
        "95814",
        "916-555-0108",
    ),
    PharmacyData(
        "1000112",
        "Coral Reef Pharmacy",
        "2300 Seaglass Drive",
        "Miami",
        "FL",
        "33130",
        "305-555-0129",
        open_24_hours=True,
    ),
    PharmacyData(
        "1000120",
        "Gulf Breeze Drugs",
        "75 Bayshore Court",
        "Tampa",
        "FL",
        "33602",
        "813-555-0147",
    ),
    PharmacyData(
        "3600116",
        "Northstar Mail Pharmacy",
        "4000 Fulfillment Parkway",
        "Columbus",
        "OH",
        "43219",
        "614-555-0100",
        fax="614-555-0101",
        mail_order=True,
    ),
)


@transaction.atomic
def seed_pharmacies() -> list[Pharmacy]:
    pharmacies = []
    for data in STARTER_PHARMACIES:
        values = asdict(data)
        ncpdp_id = values.pop("ncpdp_id")
        pharmacy, _ = Pharmacy.objects.get_or_create(ncpdp_id=ncpdp_id, defaults=values)
        pharmacies.append(pharmacy)
    return pharmacies
