"""Synthetic Partner Center daily rated usage exports, for tests and benchmarks.

`write_pc_usage_csv` writes the full documented header (55 columns) and realistic values:
M/D/YYYY dates, amounts with many decimals, Tags and AdditionalInfo holding JSON with commas
and doubled quotes. Rows are built column-wise a chunk at a time, so a million rows take
seconds and little memory. Row i belongs to resource i // days and day i % days, so every
row has a distinct identity.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from riskdesk.imports.pc_columns import DAILY_RATED_USAGE

# (category, subcategory, name, unit, unit price, meter type)
METERS = [
    ("Virtual Machines", "Dv3/DSv3 Series", "D2s v3", "1 Hour", "0.096", "Compute"),
    ("Virtual Machines", "Dv3/DSv3 Series", "D4s v3", "1 Hour", "0.192", "Compute"),
    ("Virtual Machines", "NCv3 Series", "NC6s v3", "1 Hour", "3.06", "Compute"),
    ("Virtual Machines", "NDv2 Series", "ND40rs v2", "1 Hour", "22.032", "Compute"),
    ("Storage", "Standard SSD Managed Disks", "E10 LRS Disk", "1/Month", "9.6", "Storage"),
    ("Storage", "Tables", "LRS Data Stored", "1 GB/Month", "0.045", "Storage"),
    ("Bandwidth", "Inter-Region", "Intra Continent Data Transfer Out", "1 GB", "0.02", "Data"),
    ("Azure App Service", "Basic Plan", "B1", "1 Hour", "0.075", "Compute"),
    ("SQL Database", "Single Standard", "S0 DTUs", "1/Day", "0.4838", "Compute"),
    ("Azure Monitor", "Log Analytics", "Pay-as-you-go Data Ingestion", "1 GB", "2.76", "Data"),
]
REGIONS = ["westeurope", "northeurope", "eastus", "eastus2", "uksouth", "germanywestcentral"]
TAGS = [
    "",
    '{"env":"prod","costCenter":"CC-1042"}',
    '{"env":"dev","owner":"Ops, Team \\"Blue\\"","app":"billing, api"}',
    '{"project":"riskdesk","tier":"gold, silver"}',
]
ADDITIONAL = [
    '{"ImageType":"Canonical","ServiceType":"Standard_D2s_v3","VMName":"","VCPUs":2}',
    '{"UsageResourceKind":"SSD","DataCenter":"AMS"}',
    "",
]


def _uuid(prefix: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"riskdesk:{prefix}:{key}"))


def _take(values: Sequence[str], idx: np.ndarray) -> pa.Array:
    return pa.array(list(values), pa.string()).take(pa.array(idx))


def write_pc_usage_csv(
    path: Path,
    tenant_ids: Sequence[str],
    rows: int,
    *,
    seed: int = 0,
    start_date: date = date(2026, 1, 1),
    days: int = 30,
    currency: str = "EUR",
    invoice_number: str = "",
    chunk: int = 100_000,
) -> Path:
    """Write `rows` usage rows for `tenant_ids` to `path` (blank InvoiceNumber: unbilled)."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    tenants = list(tenant_ids)
    plans = [_uuid("plan", t) for t in tenants]
    entitlements = [_uuid("entitlement", f"{t}:{k}") for t in tenants for k in range(3)]
    day_text = [
        f"{d.month}/{d.day}/{d.year}" for d in (start_date + timedelta(days=k) for k in range(days))
    ]
    month_start = start_date.replace(day=1)
    charge_start = f"{month_start.month}/1/{month_start.year}"
    nxt = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    charge_end = f"{nxt.month}/{nxt.day}/{nxt.year}"
    meter_ids = [_uuid("meter", m[2]) for m in METERS]
    prices = np.array([float(m[4]) for m in METERS])
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    with open(path, "wb") as out:
        out.write((",".join(DAILY_RATED_USAGE) + "\n").encode())
        for begin in range(0, rows, chunk):
            n = min(chunk, rows - begin)
            i = np.arange(begin, begin + n, dtype=np.int64)
            resource = i // days
            day = i % days
            mix = (resource * 2654435761) % (2**31)
            tenant = mix % len(tenants)
            meter = (mix // 7) % len(METERS)
            region = (mix // 11) % len(REGIONS)
            entitlement = tenant * 3 + (mix // 13) % 3
            quantity = np.round(rng.gamma(2.0, 4.0, n), 6)
            cost = quantity * prices[meter] * rng.uniform(0.95, 1.0, n)
            cost_text = pc.cast(pa.array(cost), pa.string())
            ent = _take(entitlements, entitlement)
            rg = pc.binary_join_element_wise("rg-", pc.cast(pa.array(mix % 17), pa.string()), "")
            uri = pc.binary_join_element_wise(
                "/subscriptions/",
                ent,
                "/resourceGroups/",
                rg,
                "/providers/Microsoft.Compute/virtualMachines/vm-",
                pc.cast(pa.array(resource), pa.string()),
                "",
            )
            const = {
                "PartnerId": "0e195b37-4574-4539-bc42-0e539b9684c0",
                "PartnerName": "Fabrikam, Ltd.",
                "MpnId": "1234567",
                "Tier2MpnId": "",
                "InvoiceNumber": invoice_number,
                "ProductId": "DZH318Z0BPS6",
                "SkuId": "0001",
                "AvailabilityId": "DZH318Z0BNZ5",
                "SkuName": "Azure plan",
                "ProductName": "Azure plan",
                "PublisherName": "Microsoft",
                "PublisherId": "",
                "SubscriptionDescription": "Azure plan",
                "ChargeStartDate": charge_start,
                "ChargeEndDate": charge_end,
                "ConsumedService": "Microsoft.Compute",
                "ChargeType": "new",
                "UnitType": "1 Hour",
                "BillingCurrency": currency,
                "PricingCurrency": "USD",
                "ServiceInfo1": "",
                "ServiceInfo2": "",
                "PCToBCExchangeRate": "0.9234",
                "PCToBCExchangeRateDate": charge_start,
                "EntitlementDescription": "Azure subscription 1",
                "PartnerEarnedCreditPercentage": "0",
                "CreditPercentage": "0",
                "CreditType": "Credit Not Applied",
                "BenefitOrderId": "",
                "BenefitId": "",
                "BenefitType": "",
            }
            meters = np.asarray(meter)
            columns = {
                "CustomerId": _take(tenants, tenant),
                "CustomerName": pc.binary_join_element_wise(
                    "Customer ", pc.cast(pa.array(tenant), pa.string()), ""
                ),
                "CustomerDomainName": pc.binary_join_element_wise(
                    "customer", pc.cast(pa.array(tenant), pa.string()), ".onmicrosoft.com", ""
                ),
                "CustomerCountry": _take(["DE", "FR", "NL", "GB", "US"], tenant % 5),
                "SubscriptionId": _take(plans, tenant),
                "UsageDate": _take(day_text, day),
                "MeterType": _take([m[5] for m in METERS], meters),
                "MeterCategory": _take([m[0] for m in METERS], meters),
                "MeterId": _take(meter_ids, meters),
                "MeterSubCategory": _take([m[1] for m in METERS], meters),
                "MeterName": _take([m[2] for m in METERS], meters),
                "MeterRegion": _take(
                    ["EU West", "EU North", "US East", "US East 2", "UK South", "DE West Central"],
                    region,
                ),
                "Unit": _take([m[3] for m in METERS], meters),
                "ResourceLocation": _take(REGIONS, region),
                "ResourceGroup": rg,
                "ResourceURI": uri,
                "UnitPrice": _take([m[4] for m in METERS], meters),
                "Quantity": pc.cast(pa.array(quantity), pa.string()),
                "BillingPreTaxTotal": cost_text,
                "PricingPreTaxTotal": pc.cast(pa.array(cost / 0.9234), pa.string()),
                "Tags": _take(TAGS, mix % len(TAGS)),
                "AdditionalInfo": _take(ADDITIONAL, meters % len(ADDITIONAL)),
                "EffectiveUnitPrice": _take([m[4] for m in METERS], meters),
                "EntitlementId": ent,
            }
            arrays = [
                columns[name] if name in columns else pa.array([const[name]] * n, pa.string())
                for name in DAILY_RATED_USAGE
            ]
            table = pa.Table.from_arrays(arrays, names=list(DAILY_RATED_USAGE))
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(table, sink, write_options=options)
            out.write(sink.getvalue().to_pybytes())
    return path
