"""Fixed reference data for the demo book: countries, offers, meters, regions, names.

Offer ids follow Partner Center's new-commerce product:sku shape and meter ids are fixed
GUIDs, so the same meter has the same id in every demo book. Prices are list prices in USD
converted with the fixed rates in `FX`; they are plausible, not current.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskdesk.book.meters import MeterClass, classify_meter

# country -> (currency, share of customers, company suffixes, domain suffix, home regions)
COUNTRIES: dict[str, tuple[str, float, tuple[str, ...], str, tuple[str, ...]]] = {
    "US": ("USD", 0.22, ("Inc.", "LLC", "Corp."), "com", ("eastus", "eastus2", "westus2")),
    "GB": ("GBP", 0.10, ("Ltd", "plc", "LLP"), "co.uk", ("uksouth", "ukwest")),
    "DE": ("EUR", 0.12, ("GmbH", "AG", "GmbH & Co. KG"), "de", ("germanywestcentral",)),
    "FR": ("EUR", 0.07, ("SAS", "SA", "SARL"), "fr", ("francecentral",)),
    "NL": ("EUR", 0.05, ("B.V.", "N.V."), "nl", ("westeurope",)),
    "IE": ("EUR", 0.03, ("Ltd", "DAC"), "ie", ("northeurope",)),
    "ES": ("EUR", 0.03, ("S.L.", "S.A."), "es", ("westeurope", "spaincentral")),
    "CN": ("CNY", 0.12, ("Co., Ltd.",), "com.cn", ("chinaeast2", "chinanorth2", "chinanorth3")),
    "JP": ("JPY", 0.06, ("K.K.", "Co., Ltd."), "co.jp", ("japaneast", "japanwest")),
    "AU": ("AUD", 0.05, ("Pty Ltd",), "com.au", ("australiaeast", "australiasoutheast")),
    "CA": ("CAD", 0.04, ("Inc.", "Ltd."), "ca", ("canadacentral", "canadaeast")),
    "CH": ("CHF", 0.03, ("AG", "GmbH", "SA"), "ch", ("switzerlandnorth",)),
    "SE": ("SEK", 0.03, ("AB",), "se", ("swedencentral", "northeurope")),
    "SG": ("SGD", 0.03, ("Pte. Ltd.",), "com.sg", ("southeastasia",)),
    "IN": ("INR", 0.02, ("Pvt. Ltd.", "Ltd."), "in", ("centralindia", "southindia")),
}

# Units of currency per US dollar (fixed, for converting list prices).
FX: dict[str, float] = {
    "USD": 1.0,
    "GBP": 0.79,
    "EUR": 0.92,
    "CNY": 7.2,
    "JPY": 150.0,
    "AUD": 1.52,
    "CAD": 1.36,
    "CHF": 0.88,
    "SEK": 10.5,
    "SGD": 1.35,
    "INR": 83.0,
}

# Regions of the 21Vianet-operated cloud; customers in CN use only these.
CHINA_REGIONS = ("chinaeast2", "chinanorth2", "chinanorth3", "chinaeast3")
# Regions far from most customers, where planted misuse shows up.
FAR_REGIONS_GLOBAL = (
    "brazilsouth",
    "southafricanorth",
    "koreacentral",
    "centralindia",
    "southcentralus",
    "westus3",
    "uaenorth",
    "australiaeast",
    "japaneast",
    "eastasia",
)


@dataclass(frozen=True)
class Offer:
    offer_id: str
    name: str
    monthly_usd: float  # list price per seat per month
    segment: str  # "any", "enterprise", "smb"


SEAT_OFFERS: tuple[Offer, ...] = (
    Offer("CFQ7TTC0LH18:0001", "Microsoft 365 Business Basic", 6.0, "smb"),
    Offer("CFQ7TTC0LDPB:0001", "Microsoft 365 Business Standard", 12.5, "smb"),
    Offer("CFQ7TTC0LCHC:0002", "Microsoft 365 Business Premium", 22.0, "smb"),
    Offer("CFQ7TTC0LH16:0001", "Exchange Online (Plan 1)", 4.0, "any"),
    Offer("CFQ7TTC0QW7C:0001", "Microsoft Teams Essentials", 4.0, "smb"),
    Offer("CFQ7TTC0LF8Q:0001", "Office 365 E3", 23.0, "enterprise"),
    Offer("CFQ7TTC0LFLX:0001", "Microsoft 365 E3", 36.0, "enterprise"),
    Offer("CFQ7TTC0LFLZ:0001", "Microsoft 365 E5", 57.0, "enterprise"),
    Offer("CFQ7TTC0RM8K:0001", "Microsoft Teams Premium", 10.0, "enterprise"),
    Offer("CFQ7TTC0L3PB:0001", "Power BI Pro", 10.0, "any"),
    Offer("CFQ7TTC0LH2H:0001", "Dynamics 365 Sales Enterprise", 105.0, "enterprise"),
    Offer("CFQ7TTC0LHSV:0001", "Dynamics 365 Business Central Essentials", 70.0, "any"),
)

AZURE_PLAN = Offer("DZH318Z0BPS6:0001", "Azure plan", 0.0, "any")
RESERVATION_OFFER = Offer(
    "DZH318Z08MJ5:00C8", "Reserved VM Instance, NC24ads A100 v4, 1 year", 0.0, "any"
)


@dataclass(frozen=True)
class Meter:
    meter_id: str
    category: str
    name: str
    unit: str
    usd_per_unit: float
    base_qty: tuple[float, float]  # typical daily quantity range of one customer
    weekend_factor: float  # daily quantity on Saturday and Sunday relative to weekdays

    @property
    def meter_class(self) -> MeterClass:
        """What the book's meter catalogue makes of it (GPU, HPC, other)."""
        return classify_meter(self.category, None, self.name)


# Every meter of the demo, in a fixed order (the generator draws meters by position). Which
# are GPU machines is the book's meter catalogue's answer, not this file's.
_ALL: tuple[Meter, ...] = (
    Meter(
        "7b3c6a28-4f0e-4d2b-9f4a-2d1c6e5b0a11",
        "Virtual Machines",
        "D2s v5",
        "1 Hour",
        0.096,
        (24.0, 240.0),
        0.55,
    ),
    Meter(
        "0c9e5f3a-8b7d-4e61-a2c4-5f8d9e0b1c22",
        "Virtual Machines",
        "D8s v5",
        "1 Hour",
        0.384,
        (24.0, 120.0),
        0.6,
    ),
    Meter(
        "e4a1d2c3-6b5f-4a7e-8d9c-0b1a2c3d4e33",
        "Virtual Machines",
        "B2ms",
        "1 Hour",
        0.0832,
        (24.0, 96.0),
        0.7,
    ),
    Meter(
        "5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d44",
        "Storage",
        "LRS Data Stored",
        "1 GB/Month",
        0.0007,  # per GB per day (0.021 per GB-month / 30)
        (500.0, 20000.0),
        1.0,
    ),
    Meter(
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c55",
        "Bandwidth",
        "Standard Data Transfer Out",
        "1 GB",
        0.087,
        (5.0, 200.0),
        0.5,
    ),
    Meter(
        "f0e1d2c3-b4a5-4968-8776-655443322166",
        "SQL Database",
        "vCore",
        "1 Hour",
        0.1261,
        (48.0, 192.0),
        0.85,
    ),
    Meter(
        "3a4b5c6d-7e8f-4091-a2b3-c4d5e6f70877",
        "Azure App Service",
        "P1 v3 App",
        "1 Hour",
        0.163,
        (24.0, 96.0),
        0.8,
    ),
    Meter(
        "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b88",
        "Log Analytics",
        "Data Ingestion",
        "1 GB",
        2.3,
        (0.5, 20.0),
        0.6,
    ),
    Meter(
        "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e99",
        "Virtual Machines",
        "NC24ads A100 v4",
        "1 Hour",
        3.673,
        (0.0, 0.0),
        1.0,
    ),
    Meter(
        "d3e4f5a6-b7c8-4d9e-8f01-2b3c4d5e6faa",
        "Virtual Machines",
        "ND96asr A100 v4",
        "1 Hour",
        27.197,
        (0.0, 0.0),
        1.0,
    ),
    Meter(
        "e5f6a7b8-c9d0-4e1f-a2b3-4c5d6e7f80bb",
        "Virtual Machines",
        "NC6s v3",
        "1 Hour",
        3.06,
        (0.0, 0.0),
        1.0,
    ),
)

# GPU meters: never part of a customer's normal usage in the demo, only of planted misuse.
GPU_METERS: tuple[Meter, ...] = tuple(m for m in _ALL if m.meter_class is MeterClass.GPU)
METERS: tuple[Meter, ...] = tuple(m for m in _ALL if m.meter_class is not MeterClass.GPU)
ALL_METERS: tuple[Meter, ...] = METERS + GPU_METERS

# Company names: <first> <second> <suffix>; CN customers get a city and a pinyin name.
NAME_FIRST = (
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Adatum",
    "Litware",
    "Tailspin",
    "Wingtip",
    "Proseware",
    "Lucerne",
    "Alpine",
    "Blue Yonder",
    "Coho",
    "Fourth Coffee",
    "Graphic",
    "Humongous",
    "Margie's",
    "Trey",
    "Woodgrove",
    "Relecloud",
    "Bellows",
    "Cedar",
    "Harbor",
    "Summit",
    "Granite",
    "Meridian",
    "Pioneer",
    "Silverline",
    "Redwood",
    "Oakridge",
    "Bluewater",
    "Ironbridge",
    "Kestrel",
    "Lakeside",
    "Northstar",
    "Evergreen",
    "Crescent",
    "Sterling",
    "Falcon",
    "Horizon",
    "Quantum",
)
NAME_SECOND = (
    "Traders",
    "Logistics",
    "Health",
    "Engineering",
    "Consulting",
    "Analytics",
    "Manufacturing",
    "Legal",
    "Foods",
    "Energy",
    "Software",
    "Retail",
    "Architects",
    "Media",
    "Capital",
    "Pharma",
    "Labs",
    "Systems",
    "Partners",
    "Services",
)
PUBLIC_SECTOR_NAMES = (
    "City Council",
    "County Health Board",
    "Regional Water Authority",
    "School District",
    "Transport Agency",
    "University Hospital",
    "Municipal Library",
    "Port Authority",
)
CN_CITIES = ("Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Guangzhou", "Chengdu", "Suzhou")
CN_NAMES = (
    "Huaxin",
    "Zhongke",
    "Tianyu",
    "Jinhai",
    "Longteng",
    "Xinghe",
    "Ruida",
    "Haoyun",
    "Baichuan",
    "Dingsheng",
    "Yuntu",
    "Kaiyuan",
)
CN_TRADES = ("Technology", "Information Technology", "Trading", "Network", "Digital", "Logistics")
BILLING_MAILBOXES = ("billing", "ap", "accounts.payable", "finance", "invoices")
